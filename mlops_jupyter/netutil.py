"""Small helpers for the local servers the package starts: free ports, readiness, processes."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.error
import urllib.request

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


def kill_group(pid: int, timeout: float = 10) -> None:
    """End the process group ``pid`` leads: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
