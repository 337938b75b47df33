"""A plain git + DVC user sees the same history: git tags, dvc status, dvc pull, dvc.api."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import git

from mlops_jupyter import datasets
from mlops_jupyter.errors import NotFoundError

DVC = [sys.executable, "-m", "dvc"]


def dvc(root: Path, *args: str) -> str:
    proc = subprocess.run([*DVC, *args], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def two_versions(temps: Path) -> bytes:
    datasets.add(temps, message="hourly window")
    v1 = temps.read_bytes()
    pd.read_csv(temps).iloc[:100].to_csv(temps, index=False)
    datasets.add(temps, message="first 100 hours")
    return v1


def test_git_and_dvc_see_the_versions(temps, project):
    two_versions(temps)

    assert git(project, "tag", "--list").split() == ["temps_1h@v1", "temps_1h@v2"]
    assert "up to date" in dvc(project, "status").lower()
    log = git(project, "log", "--format=%s", "-2")
    assert log.splitlines() == [
        "Add dataset temps_1h@v2: first 100 hours",
        "Add dataset temps_1h@v1: hourly window",
    ]


def test_dvc_api_reads_an_old_version_without_this_package(temps, project):
    v1 = two_versions(temps)
    code = (
        "import dvc.api, sys;"
        "sys.stdout.buffer.write(dvc.api.read('data/temps_1h.csv', rev='temps_1h@v1', mode='rb'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, check=True
    ).stdout
    assert out == v1


def test_a_fresh_clone_gets_the_data_with_dvc_pull(temps, project, tmp_path):
    v1 = two_versions(temps)
    assert datasets.push(progress=False) == 2

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    dvc(clone, "pull")
    assert len(pd.read_csv(clone / "data" / "temps_1h.csv")) == 100

    git(clone, "checkout", "-q", "temps_1h@v1")
    dvc(clone, "pull")
    assert (clone / "data" / "temps_1h.csv").read_bytes() == v1

    # The package in the clone reads what it needs from the remote too.
    assert len(datasets.load("temps_1h@v2", project=clone)) == 100


def test_push_skips_what_the_remote_has_and_pull_restores_a_lost_cache(temps, project):
    two_versions(temps)
    assert datasets.push(progress=False) == 2
    assert datasets.push(progress=False) == 0

    shutil.rmtree(project / ".dvc" / "cache")
    temps.unlink()
    assert datasets.pull(progress=False) == 2
    assert len(pd.read_csv(temps)) == 100
    assert len(datasets.load("temps_1h@v1")) == 8759


def test_load_falls_back_to_the_remote_when_the_cache_lacks_the_data(temps, project):
    two_versions(temps)
    datasets.push(progress=False)
    shutil.rmtree(project / ".dvc" / "cache")
    assert len(datasets.load("temps_1h@v1")) == 8759


def test_remotes_can_be_listed_and_added(project, tmp_path):
    remotes = datasets.remotes()
    assert remotes["remote"].tolist() == ["local"]
    assert bool(remotes["default"].iloc[0])

    datasets.add_remote("backup", str(tmp_path / "backup"), default=True)
    remotes = datasets.remotes().set_index("remote")
    assert remotes.loc["backup", "url"] == str(tmp_path / "backup")
    assert bool(remotes.loc["backup", "default"]) and not bool(remotes.loc["local", "default"])
    assert "backup" in dvc(project, "remote", "list")


def test_pull_of_versions_the_remote_never_got(temps, project):
    datasets.add(temps)  # never pushed
    shutil.rmtree(project / ".dvc" / "cache")
    with pytest.raises(NotFoundError, match=r"not on the remote: temps_1h@v1; push them"):
        datasets.pull(progress=False)
