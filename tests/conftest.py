"""Fixtures that build the real thing: a temporary git + DVC project, and an IPython shell."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

VEGA_DATA = Path(__import__("vega_datasets").__file__).parent / "_data"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "DVC_NO_ANALYTICS": "1",
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    # DVC keeps a site cache under the user's folders; keep tests from sharing one.
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path_factory.mktemp("dvc-site")))
    for key in list(os.environ):
        if key.startswith("MLOPS_JUPYTER_"):
            monkeypatch.delenv(key)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """An empty git repository (no DVC yet), as the current directory."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def project(repo) -> Path:
    """A git + DVC project made by ``datasets.init``."""
    from mlops_jupyter import datasets

    datasets.init(repo)
    return repo


@pytest.fixture
def temps(project) -> Path:
    """The talk's case: an hourly time series (Seattle, 2010) in the project's data folder."""
    path = project / "data" / "temps_1h.csv"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(VEGA_DATA / "seattle-temps.csv", path)
    return path


@pytest.fixture
def shell(project):
    """An IPython shell with the extension loaded; ``shell.run(cell)`` fails the test on error."""
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "mlops_jupyter")

    def run(cell: str):
        result = sh.run_cell(cell)
        if not result.success:
            raise (result.error_in_exec or result.error_before_exec)  # type: ignore[misc]
        return result.result

    sh.run = run  # type: ignore[attr-defined]
    yield sh
    sh.user_ns.clear()
    InteractiveShell.clear_instance()
