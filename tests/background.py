"""What tests wait for, started once in the background while other tests run: the Binder
test's environment and the team's services (PostgreSQL, S3, an MLflow server).

One process starts them (pytest itself, or pytest-xdist's controller once a worker reports
what it collected) and writes what the tests need into a shared folder, which every process
knows from ``MLOPS_TEST_SHARED``: ``binder.json`` when the install ends, ``team.pickle`` (the
services' addresses) when they answer, or ``*.error`` saying why not.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

SHARED_ENV = "MLOPS_TEST_SHARED"


class Background:
    """The starter's side: starts each thing at most once, stops them at the end."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.binder: Any = None
        self.team: Any = None

    def start(self, binder: bool, team: bool) -> None:
        if binder and self.binder is None:
            from binder_setup import BinderInstall

            self.binder = BinderInstall(Path(tempfile.mkdtemp(prefix="binder-")))
            threading.Thread(target=self._binder_done, daemon=True).start()
        if team and self.team is None:
            from services import Starting

            self.team = Starting()
            threading.Thread(target=self._team_done, daemon=True).start()

    def _binder_done(self) -> None:
        install = self.binder
        code = install.process.wait()
        paths = {"repo": str(install.repo), "venv": str(install.venv), "log": str(install.log)}
        _publish(self.folder / "binder.json", json.dumps({**paths, "code": code}).encode())

    def _team_done(self) -> None:
        try:
            team = self.team.get()
        except BaseException as exc:  # noqa: BLE001 - the tests that need them say why
            _publish(self.folder / "team.error", repr(exc).encode())
            return
        _publish(self.folder / "team.pickle", pickle.dumps(team))

    def close(self) -> None:
        if self.binder is not None:
            self.binder.remove()
        if self.team is not None:
            self.team.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _publish(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _wait(name: str, timeout: float) -> bytes:
    folder = Path(os.environ[SHARED_ENV])
    stem = name.rsplit(".", 1)[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (folder / name).exists():
            return (folder / name).read_bytes()
        error = folder / f"{stem}.error"
        if error.exists():
            raise AssertionError(f"{stem} did not start: {error.read_text()}")
        time.sleep(0.5)
    raise AssertionError(f"{stem} was not ready after {timeout:.0f} s (was it started?)")


def binder_install(timeout: float = 900) -> SimpleNamespace:
    """The repository copy and the venv installed from binder/requirements.txt (waited for)."""
    done = json.loads(_wait("binder.json", timeout))
    log = Path(done["log"])
    assert done["code"] == 0, f"pip install -r binder/requirements.txt failed:\n{log.read_text()}"
    return SimpleNamespace(repo=Path(done["repo"]), venv=Path(done["venv"]), log=log)


def team(timeout: float = 600) -> Any:
    """The team's services, as the process that started them describes them."""
    return pickle.loads(_wait("team.pickle", timeout))
