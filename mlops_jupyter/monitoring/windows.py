"""The windows of traffic monitoring reads: their names, lengths and labels, in one place.

A window is a name below (the last hour, day or week), a number of most recent requests, a
``(start, end)`` pair of epoch seconds, or None for everything logged.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import MlopsError

NAMED = {"1h": ("last hour", 3600.0), "1d": ("last day", 86400.0), "7d": ("last week", 604800.0)}
LAST_REQUESTS = 1000  # the dashboard's count window
HELP = "1h, 1d, 7d, or N (the last N requests)"

Window = str | int | tuple[float, float] | None


def parse(text: str) -> str | int:
    """``"1d"`` or ``"500"`` (the last 500 requests) from a command line; one line if neither."""
    if text.isdigit() and int(text) > 0:
        return int(text)
    if text in NAMED:
        return text
    raise MlopsError(f"window {text!r}: use {HELP}")


def seconds(window: str) -> float:
    """How long a named window is."""
    if window not in NAMED:
        raise MlopsError(f"window {window!r}: use {', '.join(NAMED)}, N requests or (start, end)")
    return NAMED[window][1]


def bounds(window: Window) -> tuple[Any, Any]:
    """(since, until) in epoch seconds of a window ("1h", "1d", "7d" or a (start, end) pair);
    (None, None) for everything, or for the last N requests (cut by the caller)."""
    if isinstance(window, str):
        return time.time() - seconds(window), None
    if isinstance(window, tuple):
        return window
    return None, None


def choices() -> list[tuple[str, str | int]]:
    """What a window selector offers, as (label, value)."""
    named: list[tuple[str, str | int]] = [(label, name) for name, (label, _) in NAMED.items()]
    return [*named, (f"last {LAST_REQUESTS:,} requests", LAST_REQUESTS)]
