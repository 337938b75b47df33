"""The IPython magics: one thin module per magic over the plain Python API."""

from __future__ import annotations

from typing import Any


def register(ipython: Any) -> None:
    from .dataset import DatasetMagics
    from .monitor import MonitorMagics
    from .serve import ServeMagics
    from .track import TrackMagics

    ipython.register_magics(DatasetMagics, TrackMagics, ServeMagics, MonitorMagics)
