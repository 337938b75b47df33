"""Notebook runs on a Dask cluster: the runs of a sweep or a search, sent to its workers.

A run on a worker is the very command a local sweep starts (``mlops-jupyter run NB --json ...``),
started by the Dask worker in the project's checkout **at the same path** on its machine: a
shared file system, or a clone of the same commit at that path. The notebook, the code it imports
and the ``.dvc`` files come from there; data versions from the DVC cache or remote, as
``datasets.load`` gets them anywhere; runs log to the profile's tracking store (a team's server:
the settings and ``MLFLOW_*`` variables of the client are passed along). Workers need
mlops-jupyter installed; credentials (``AWS_*``) are their own.

A worker that dies takes its run with it (the run ends KILLED) and Dask starts the run again on
another worker, once; a run whose worker died twice fails with that reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import MlopsError, first_line

STOP_POLL = 0.5  # seconds between a worker's looks at the stop flag of its run
PASSED_ENV = ("MLOPS_JUPYTER_", "MLFLOW_")  # settings the runs on the workers need too
# Never in a task's arguments: any client of the scheduler can read those (and, without TLS,
# anyone on the network). Workers get secrets from their own environment.
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "AUTH")
ATTEMPTS = 2  # the first start and one retry after a worker died
PR_SET_PDEATHSIG = 1
LIVE = ("running", "connecting", "newly-created")  # a client's states while it can still answer


def connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` (``tcp://HOST:8786``), or one line."""
    try:
        from distributed import Client
    except ImportError:
        raise MlopsError(
            "runs on a Dask cluster need Dask: pip install 'mlops-jupyter[team]'"
        ) from None
    try:
        _reachable(address)  # a refused connection is said at once (Dask retries for 10 s)
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise MlopsError(
            f"no Dask scheduler answers at {address}: {first_line(e)}; start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS` (README: runs on a cluster)"
        ) from None


def _reachable(address: str) -> None:
    """Raise OSError when nothing listens at a ``tcp://``/``tls://`` address (others: no check)."""
    scheme, sep, rest = address.rpartition("://")
    if sep and scheme not in ("tcp", "tls"):
        return
    host, _, port = rest.rpartition(":")
    if host and port.isdigit():
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass


class RemoteRun:
    """One run on a worker, handled as a local ``subprocess.Popen`` is (poll, communicate,
    send_signal); ``worker`` is the address of the worker that ran it."""

    def __init__(self, client: Any, command: list[str], cwd: Path, name: str):
        if client.status not in LIVE:
            raise MlopsError(
                f"the Dask scheduler at {client.scheduler.address} went away; the runs that "
                "finished are kept, the others are marked"
            )
        self.client = client
        self.address = client.scheduler.address
        self.stop = f"mlops-stop-{uuid.uuid4().hex}"
        env, _ = task_env(os.environ)
        self.future = client.submit(run_command, command[1:], str(cwd), env, self.stop,
                                    key=f"run-{name}-{self.stop[-8:]}", pure=False)  # fmt: skip
        self.worker = ""
        self.lost = False  # the scheduler went away before the run's end was known
        self._result: tuple[int, str, str] | None = None

    def poll(self) -> int | None:
        if self._result is None and not self.future.done() and self.client.status in LIVE:
            return None
        return self._get()[0]

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        code, out, err = self._get(timeout)
        return out, err

    def send_signal(self, sig: int) -> None:
        """Stop the run: its worker ends it KILLED."""
        from distributed import Event

        with contextlib.suppress(Exception):  # a scheduler gone: nothing to tell
            Event(self.stop, client=self.client).set()

    def _get(self, timeout: float | None = 120) -> tuple[int, str, str]:
        if self._result is None:
            try:
                code, out, err, self.worker = self.future.result(timeout=timeout)
                self._result = (code, out, err)
            except Exception as e:  # noqa: BLE001 - whatever the cluster raised: the run's error
                self.lost = _scheduler_lost(e, self.client)
                reason = _cluster_error(e, self.client, self.address)
                self._result = (1, "", f"mlops-jupyter run: {reason}")
        return self._result


def _scheduler_lost(e: BaseException, client: Any) -> bool:
    return client.status not in LIVE or "scheduler-connection-lost" in str(e)


def _cluster_error(e: BaseException, client: Any, address: str) -> str:
    name = type(e).__name__
    if name == "KilledWorker":
        return "its Dask worker died twice during the run; not retried again"
    if _scheduler_lost(e, client):
        return f"the Dask scheduler at {address} went away during the run"
    return f"on the Dask cluster: {first_line(e)}"


def raise_if_lost(run: Any) -> None:
    """One line, if the scheduler of ``run`` (a ``RemoteRun``, or a local process: never) went
    away: a sweep or search cannot go on without it."""
    if getattr(run, "lost", False):
        raise MlopsError(
            f"the Dask scheduler at {run.address} went away; the runs that "
            "finished are kept, and those still on its workers end KILLED as the workers stop"
        )


@contextlib.contextmanager
def quiet_client() -> Iterator[None]:
    """Keep distributed's client from logging tracebacks while it reconnects to a scheduler
    that went away: the sweep says so in one line."""
    import logging

    loggers = [logging.getLogger(name) for name in ("distributed.client", "distributed.comm")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def task_env(environ: Any) -> tuple[dict[str, str], list[str]]:
    """The variables a run on a worker is sent (settings, never secrets), and the names of
    those held back: a name that says it is a secret, or a URL's user and password (the
    URL is sent without them)."""
    from urllib.parse import urlsplit, urlunsplit

    sent, held = {}, []
    for name, value in environ.items():
        if not name.startswith(PASSED_ENV):
            continue
        if any(word in name.upper() for word in SECRET_WORDS):
            held.append(name)
            continue
        if "@" in value and "://" in value:
            try:
                parts = urlsplit(value)
                if parts.username or parts.password:
                    netloc = parts.hostname or ""
                    netloc += f":{parts.port}" if parts.port else ""
                    value = urlunsplit(parts._replace(netloc=netloc))
                    held.append(f"{name}'s user and password")
            except ValueError:
                held.append(name)
                continue
        sent[name] = value
    return sent, held


def held_back_notice(environ: Any) -> str | None:
    """One line naming the secrets a cluster's runs are not sent (None: none)."""
    _, held = task_env(environ)
    if not held:
        return None
    return (
        f"not sent to the Dask workers (any client of the scheduler could read them): "
        f"{', '.join(held)}; set them in the workers' own environment"
    )


def run_command(args: list[str], cwd: str, env: dict[str, str], stop: str) -> tuple:
    """On a worker: run ``python ARGS`` in ``cwd`` until it ends or the run's stop flag is
    set (then it ends the run KILLED). Returns (exit code, stdout, stderr, worker address)."""
    from distributed import Event, Variable, get_worker

    worker = get_worker().address
    attempts = Variable(f"{stop}-attempts")
    try:
        started = int(attempts.get(timeout=0))
    except TimeoutError:
        started = 0
    attempts.set(started + 1)
    if started >= ATTEMPTS:
        return 1, "", "mlops-jupyter run: its Dask worker died twice; not retried again", worker
    if not Path(cwd).is_dir():
        reason = (f"mlops-jupyter run: the Dask worker {worker} has no checkout of the project "
                  f"at {cwd}; workers run notebooks from the same path")  # fmt: skip
        return 1, "", reason, worker
    # Output goes to files, not pipes: a run whose worker died still ends its run KILLED,
    # where writing to a pipe nobody reads would break first.
    folder = Path(tempfile.mkdtemp(prefix="mlops-run-"))
    with open(folder / "out", "w") as out, open(folder / "err", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=_die_with_worker,
        )
    flag = Event(stop)
    while True:
        try:
            code = proc.wait(timeout=STOP_POLL)
            break
        except subprocess.TimeoutExpired:
            if flag.is_set():
                proc.send_signal(signal.SIGTERM)  # the run ends itself KILLED
    said = (folder / "out").read_text(), (folder / "err").read_text()
    shutil.rmtree(folder, ignore_errors=True)
    return code, *said, worker


_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_worker() -> None:
    """In the run's process: a SIGTERM (the run ends KILLED) if the worker dies first."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
