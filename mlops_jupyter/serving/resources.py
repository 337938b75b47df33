"""Resource samples of an endpoint's processes over time: CPU, memory, disk and network I/O.

The endpoint's main process samples itself and its workers every few seconds (psutil) and appends
one JSON line per sample to ``resources.jsonl`` beside its prediction log. Disk I/O is the
processes' own; network traffic is the host's (operating systems do not count it per process).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

INTERVAL_ENV = "MLOPS_JUPYTER_SAMPLE_SECONDS"
FILE = "resources.jsonl"
MAX_BYTES = 16 * 1024 * 1024  # then the file is kept as resources.1.jsonl and a new one begun


class Sampler(threading.Thread):
    """A daemon thread appending a sample of this process and its children every ``interval``."""

    def __init__(self, folder: Path, interval: float | None = None):
        super().__init__(name="mlops-resources", daemon=True)
        self.path = folder / FILE
        self.interval = interval or float(os.environ.get(INTERVAL_ENV, "5"))
        self._done = threading.Event()
        self._processes: dict[int, Any] = {}
        self._last: dict[str, float] = {}
        self.started = time.time()

    def run(self) -> None:
        import psutil

        self.path.parent.mkdir(parents=True, exist_ok=True)
        main = psutil.Process()
        self.sample(main)  # primes the CPU counters; the first rates start from here
        while not self._done.wait(self.interval):
            try:
                self._write(self.sample(main))
            except Exception:  # noqa: BLE001,S112 - a sample lost must never stop the endpoint
                continue

    def stop(self) -> None:
        self._done.set()

    def sample(self, main: Any) -> dict[str, Any]:
        import psutil

        now = time.time()
        alive = [main, *main.children(recursive=True)]
        cpu = rss = read = written = 0.0
        for proc in alive:
            known = self._processes.setdefault(proc.pid, proc)  # cpu_percent needs the same object
            try:
                with known.oneshot():
                    cpu += known.cpu_percent(None)
                    rss += known.memory_info().rss
                    io = known.io_counters()
                    read, written = read + io.read_bytes, written + io.write_bytes
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self._processes = {p.pid: self._processes[p.pid] for p in alive}
        net = psutil.net_io_counters()
        totals = {"read": read, "written": written, "sent": net.bytes_sent, "recv": net.bytes_recv}
        elapsed = now - self._last.get("ts", now)
        rates = {
            f"{key}_bytes_s": max(0.0, (value - self._last[key]) / elapsed)
            for key, value in totals.items()
            if elapsed > 0 and key in self._last
        }
        self._last = {"ts": now, **totals}
        return {
            "ts": round(now, 3),
            "start": round(self.started, 3),
            "cpu_percent": round(cpu, 1),
            "rss_mb": round(rss / 2**20, 2),
            "processes": len(alive),
            **{key: round(value, 1) for key, value in rates.items()},
        }

    def _write(self, sample: dict[str, Any]) -> None:
        if self.path.exists() and self.path.stat().st_size > MAX_BYTES:
            self.path.replace(self.path.with_suffix(".1.jsonl"))
        with self.path.open("a") as out:  # one line, one write: readers never see half of it
            out.write(json.dumps(sample) + "\n")


def read(folder: Path, since: float | None = None) -> Any:
    """The samples as a DataFrame (ts, start, cpu_percent, rss_mb, …), oldest first.

    ``start`` is when the sampling process started: a restart begins a new series.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for path in (folder / "resources.1.jsonl", folder / FILE):
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a torn last line after a kill
                    continue
    frame = pd.DataFrame(rows, columns=None if rows else ["ts", "start", "cpu_percent", "rss_mb"])
    if since is not None and len(frame):
        frame = frame[frame["ts"] >= since]
    return frame.reset_index(drop=True)
