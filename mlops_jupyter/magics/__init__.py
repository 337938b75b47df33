"""The IPython magics: one thin module per magic over the plain Python API."""

from __future__ import annotations

import sys
from typing import Any


def register(ipython: Any) -> None:
    from .dataset import DatasetMagics
    from .monitor import MonitorMagics
    from .serve import ServeMagics
    from .track import TrackMagics, record_execution

    ipython.register_magics(DatasetMagics, TrackMagics, ServeMagics, MonitorMagics)
    if record_execution not in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.register("pre_run_cell", record_execution)
    _lineage_of_loads()
    _offline_charts(ipython)


def _lineage_of_loads() -> None:
    """In a notebook a frame loaded now may feed a later ``%%track`` cell: tracking observes
    loads from the start (its lineage module imported at the first load, not now)."""
    from ..datasets import hooks

    def record(*args: Any) -> None:
        from ..tracking import lineage

        lineage.record(*args)

    def pinned(ref: str) -> Any:
        from ..tracking import lineage

        return lineage.pinned(ref)

    hooks.observe("lineage", record)  # replaced by the same, direct, once tracking is imported
    hooks.pin("lineage", pinned)


def _offline_charts(ipython: Any) -> None:
    """altair charts render from the Vega JupyterLab ships, not a CDN (see views.vega)."""
    from ..views import vega

    def hook(*_: Any) -> None:
        if "altair" in sys.modules:
            vega.enable()
            ipython.events.unregister("pre_run_cell", hook)

    ipython.events.register("pre_run_cell", hook)
