"""Binder's set-up replayed: a fresh virtual environment built from binder/, then the quickstart.

The environment's ``pip install -r binder/requirements.txt`` starts when the session begins (see
binder_setup.py); this test runs postBuild in it, checks both extensions, and runs the quickstart.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.timeout(900)
def test_binder_installs_the_package_and_runs_the_quickstart(binder_install, tmp_path):
    repo, bin_dir = binder_install.repo, binder_install.venv / "bin"
    home = tmp_path / "home"  # postBuild sets a global git identity: not in the user's own
    home.mkdir()
    env = dict(os.environ, HOME=str(home), VIRTUAL_ENV=str(binder_install.venv),
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # fmt: skip

    def sh(*command: str, cwd: Path = repo) -> str:
        out = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        said = out.stdout[-2000:] + out.stderr[-2000:]
        assert out.returncode == 0, f"{' '.join(command)}:\n{said}"
        return COLOUR.sub("", out.stdout + out.stderr)

    sh("bash", "binder/postBuild")  # what repo2docker runs after requirements.txt
    demo = repo / "demo"
    assert (demo / ".git").is_dir() and (demo / "01-quickstart.ipynb").exists()
    assert re.search(r"mlops-jupyter v\S+ enabled OK", sh("jupyter", "labextension", "list"))
    assert "mlops_jupyter enabled" in sh("jupyter", "server", "extension", "list")
    # the quickstart, top to bottom, in the kernel of that environment
    executed = tmp_path / "quickstart-run.ipynb"
    try:
        sh("papermill", "--cwd", str(demo), "-k", "python3", "--log-level", "WARNING",
           str(demo / "01-quickstart.ipynb"), str(executed))  # fmt: skip
    finally:
        sh("python", "-m", "mlops_jupyter.demo", "--project", str(demo), "--stop")
    said = executed.read_text()  # December traffic: `day` and the predictions drifted (monitor 2)
    assert "scorecard of temps-model: FAIL" in said and "dataset drift: 1 of 2 columns" in said
