"""The slow half of the Binder test, started as soon as the session knows it will run: a copy of
the repository and a fresh virtual environment installed from binder/requirements.txt (what
repo2docker does first). It installs in the background while the other tests run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_of_the_repository(target: Path) -> Path:
    """The repository's files as a checkout has them (plus the built sidebar, as `make` leaves
    it: building it again with npm is `make env`'s job, not this test's)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    built = (ROOT / "mlops_jupyter" / "labextension").rglob("*")
    for name in listed + [str(p.relative_to(ROOT)) for p in built]:
        source, copy = ROOT / name, target / name
        if source.is_symlink():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.symlink_to(os.readlink(source))
        elif source.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    return target


class BinderInstall:
    """``pip install -r binder/requirements.txt`` into a new venv, running in the background."""

    def __init__(self, root: Path):
        self.root = root
        self.repo = copy_of_the_repository(root / "repo")
        self.venv = root / "venv"
        self.log = root / "install.log"
        # uv stands in for Binder's pip: the same requirements file and pins, installed from the
        # cache `make` filled, in seconds of CPU instead of minutes that the other tests need
        uv = Path(sys.executable).with_name("uv")
        script = (
            f"{sys.executable} -m venv {self.venv} && {uv} pip install -q "
            f"--python {self.venv}/bin/python -r binder/requirements.txt"
        )
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", script], cwd=self.repo, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip

    def wait(self, timeout: float = 900) -> None:
        code = self.process.wait(timeout=timeout)
        assert code == 0, f"pip install -r binder/requirements.txt failed:\n{self.log.read_text()}"

    def remove(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
