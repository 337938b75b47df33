"""Binder's set-up replayed: a fresh virtual environment built from binder/, then the quickstart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def copy_of_the_repository(target: Path) -> Path:
    """The repository's files as a checkout has them (plus the built sidebar, as `make` leaves
    it: building it again with npm is `make env`'s test, not this one's)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    built = (ROOT / "mlops_jupyter" / "labextension").rglob("*")
    for name in listed + [str(p.relative_to(ROOT)) for p in built]:
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
        elif source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).symlink_to(os.readlink(source))
    return target


@pytest.mark.timeout(900)
def test_binder_installs_the_package_and_runs_the_quickstart(tmp_path):
    repo = copy_of_the_repository(tmp_path / "repo")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = dict(os.environ, HOME=str(tmp_path / "home"), VIRTUAL_ENV=str(venv),
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # fmt: skip
    (tmp_path / "home").mkdir()

    def sh(*command: str, cwd: Path = repo) -> str:
        out = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        said = out.stdout[-2000:] + out.stderr[-2000:]
        assert out.returncode == 0, f"{' '.join(command)}:\n{said}"
        return out.stdout + out.stderr

    # what repo2docker does: requirements.txt, then postBuild
    sh("pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
       "-r", "binder/requirements.txt")  # fmt: skip
    sh("bash", "binder/postBuild")
    demo = repo / "demo"
    assert (demo / ".git").is_dir() and (demo / "01-quickstart.ipynb").exists()
    listed = re.sub(r"\x1b\[[0-9;]*m", "", sh("jupyter", "labextension", "list"))
    assert re.search(r"mlops-jupyter v\S+ enabled OK", listed)
    assert "mlops_jupyter enabled" in re.sub(
        r"\x1b\[[0-9;]*m", "", sh("jupyter", "server", "extension", "list")
    )
    # the quickstart, top to bottom, in the kernel of that environment
    try:
        sh("papermill", "--cwd", str(demo), "-k", "python3", "--log-level", "WARNING",
           str(demo / "01-quickstart.ipynb"), str(tmp_path / "quickstart-run.ipynb"))  # fmt: skip
    finally:
        sh("python", "-m", "mlops_jupyter.demo", "--project", str(demo), "--stop")
    executed = (tmp_path / "quickstart-run.ipynb").read_text()
    assert "Scorecard of temps-model" in executed or "scorecard of temps-model" in executed
