"""Small helpers for the local servers the package starts: free ports, readiness, processes."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.error
import urllib.request
from typing import Any

from .errors import MlopsError


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(wanted: int | None, default: int, host: str = "127.0.0.1") -> int:
    """``wanted`` if free (else a clear error), or the first free port from ``default`` on."""
    if wanted is not None:
        if not port_free(wanted, host):
            raise MlopsError(f"port {wanted} on {host} is in use; pick another with --port")
        return wanted
    for port in range(default, default + 100):
        if port_free(port, host):
            return port
    raise MlopsError(f"no free port between {default} and {default + 99}; pass --port")


def wait_http(url: str, timeout: float, alive: object = None) -> None:
    """Wait until ``url`` answers 200; ``alive()`` False (the process died) stops the wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            raise MlopsError(f"the server for {url} exited while starting; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise MlopsError(f"{url} did not answer within {timeout:.0f} s; see the server's log")


def wait_port(host: str, port: int, timeout: float, alive: object = None) -> None:
    """Wait until something accepts connections on ``host:port`` (a server without a health URL)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            raise MlopsError(f"the server for {host}:{port} exited while starting; see its log")
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise MlopsError(f"{host}:{port} did not answer within {timeout:.0f} s; see the server's log")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a child of ours that exited is reaped, not counted)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: ask the kernel below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds, as the kernel counts it); None when no
    process has that number."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def is_ours(pid: int, started: float | None) -> bool:
    """Whether ``pid`` is still the process a record wrote down with its start time, and not
    another that was given the same number since. Without a start time nothing is proven."""
    if not pid or not pid_alive(pid):
        return False
    now = process_started(pid)
    return now is not None and _same_start(now, started)


def _same_start(now: float, started: float | None) -> bool:
    """Whether two readings of a start time are one process's (psutil counts clock ticks)."""
    return started is not None and abs(now - started) < 1.0


def listen(host: str, port: int, tries: int = 1) -> socket.socket:
    """A socket bound to ``host:port``, or to the next free of ``tries`` ports from it, with
    uvicorn's options (it is handed to the server): binding is what reserves a port, so two
    servers started at once never both think one is free. ``OSError`` when none is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port, port + tries):
        sock = socket.socket(family)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
            # Listening now: with SO_REUSEADDR, Linux lets a second socket bind a port that
            # another only bound (seen: two endpoints on one port, one answering for both).
            sock.listen(2048)
        except OSError:
            sock.close()
            if candidate == port + tries - 1:
                raise
            continue
        sock.set_inheritable(True)
        return sock
    raise OSError(f"no port to try from {port}")  # pragma: no cover - tries >= 1


def kill_child(proc: Any, timeout: float = 10) -> None:
    """End the process group of ``proc``, a child this process started (a ``Popen``): no
    other process can have its number while it is not reaped, so nothing needs proving."""
    kill_group(proc.pid, process_started(proc.pid), timeout)


def kill_group(pid: int, started: float | None, timeout: float = 10) -> None:
    """End the process group ``pid`` leads: SIGTERM, then SIGKILL after ``timeout`` seconds.

    ``started`` is when the leader started, as its record wrote it down: a process that
    holds the number now but started at another time is someone else's, and gets no signal
    (the kernel gives no new process a number still used by a group of ours, so a group
    whose leader is gone is ours alone).
    """
    now = process_started(pid)
    if now is not None and not _same_start(now, started):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
