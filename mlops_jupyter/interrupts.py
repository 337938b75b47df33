"""Ctrl-C held back while a step that must be whole runs (a commit, putting files back)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def deferred() -> Iterator[None]:
    """Run the block whole: a SIGINT that arrives meanwhile is delivered again when it ends,
    to the handler that was there before (``KeyboardInterrupt``, as a rule). Outside the main
    thread (where Python delivers signals) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda *frame: caught.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:  # delivered again, to whatever handled it before (ignored stays ignored)
        signal.raise_signal(signal.SIGINT)
