"""What other layers attach to data loads, so that the data API knows nothing of them.

``observe(key, fn)``: ``fn(ws, version, frame, requested)`` runs after every ``datasets.load``
(tracking records lineage there). ``pin(key, fn)``: ``fn(ref)`` may name the version a load
returns instead of the one ``ref`` resolves to (a reproduction pins what the original run read).
A second function under the same key replaces the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_observers: dict[str, Callable[..., None]] = {}
_pinners: dict[str, Callable[[str], Any]] = {}


def observe(key: str, observer: Callable[..., None]) -> None:
    """Call ``observer(ws, version, frame, requested)`` after each load."""
    _observers[key] = observer


def pin(key: str, pinner: Callable[[str], Any]) -> None:
    """Ask ``pinner(ref)`` first for the version a load of ``ref`` returns (None: no pin)."""
    _pinners[key] = pinner


def pinned(ref: str) -> Any:
    for pinner in list(_pinners.values()):
        version = pinner(ref)
        if version is not None:
            return version
    return None


def loaded(ws: Any, version: Any, frame: Any, requested: str) -> None:
    for observer in list(_observers.values()):
        observer(ws, version, frame, requested)
