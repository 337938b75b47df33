"""Bad input gets one clear line; an interrupted add leaves no half version behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from helpers import git

from mlops_jupyter import datasets
from mlops_jupyter.errors import MlopsError, NotFoundError


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_outside_a_git_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(MlopsError) as exc:
        datasets.add("a.csv")
    assert "not inside a git repository" in one_line(exc) and "%dataset init" in str(exc.value)


def test_first_add_sets_up_dvc_after_saying_so(repo, capsys):
    (repo / "a.csv").write_text("x\n1\n2\n")
    version = datasets.add("a.csv")
    assert version.ref == "a@v1"
    assert "Setting up DVC" in capsys.readouterr().err
    assert (repo / ".dvc" / "config").is_file()
    assert git(repo, "status", "--porcelain") == ""


def test_unknown_names_and_versions_list_what_exists(temps, project):
    datasets.add(temps)
    with pytest.raises(NotFoundError) as exc:
        datasets.load("temps_h1")
    assert "no dataset named 'temps_h1'" in one_line(exc) and "temps_1h" in str(exc.value)
    with pytest.raises(NotFoundError) as exc:
        datasets.show("temps_1h@v7")
    assert "temps_1h has versions v1" in one_line(exc)


def test_missing_file_and_file_outside_the_project(project, tmp_path):
    with pytest.raises(NotFoundError) as exc:
        datasets.add("data/nothing.csv")
    assert "does not exist" in one_line(exc)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x\n1\n")
    with pytest.raises(MlopsError) as exc:
        datasets.add(outside)
    assert "outside the project" in one_line(exc)
    with pytest.raises(MlopsError) as exc:
        datasets.add(project / ".dvc" / "config")
    assert "metadata" in one_line(exc)


@pytest.mark.parametrize("name", ["bad name", "a@b", "-x", "x..y", "caf~e", "x.lock", ""])
def test_names_a_tag_cannot_hold(temps, name):
    with pytest.raises(MlopsError) as exc:
        datasets.add(temps, name=name)
    assert "cannot be a dataset name" in one_line(exc)


def test_a_file_git_already_tracks(project):
    (project / "small.csv").write_text("x\n1\n")
    git(project, "add", "small.csv")
    git(project, "commit", "-qm", "small file in git")
    with pytest.raises(MlopsError) as exc:
        datasets.add("small.csv")
    assert "git rm -r --cached small.csv" in one_line(exc)


def test_malformed_table_is_refused_and_nothing_is_left(project):
    bad = project / "broken.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(MlopsError) as exc:
        datasets.add(bad)
    assert "broken.csv is not a readable csv file" in one_line(exc)
    assert git(project, "tag", "--list") == ""
    assert not (project / "broken.csv.dvc").exists()
    assert git(project, "status", "--porcelain") == "?? broken.csv"


def test_checkout_refuses_to_drop_changes_not_added(temps, project):
    datasets.add(temps)
    temps.write_text("date,temp\n2010/01/01 00:00,1.0\n")
    with pytest.raises(MlopsError) as exc:
        datasets.checkout("temps_1h@v1")
    assert "no version holds; a checkout would lose it" in one_line(exc)
    assert "--force" in str(exc.value)
    assert temps.read_text().endswith("1.0\n")
    datasets.checkout("temps_1h@v1", force=True)
    assert len(temps.read_text().splitlines()) == 8760


def test_load_of_data_in_neither_cache_nor_remote(temps, project):
    datasets.add(temps)  # never pushed
    shutil.rmtree(project / ".dvc" / "cache")
    with pytest.raises(NotFoundError) as exc:
        datasets.load("temps_1h@v1")
    assert "neither the local cache nor the remote" in one_line(exc)


def test_a_row_diff_of_a_damaged_parquet_version(project):
    import pandas as pd

    path = project / "cities.parquet"
    for n in (3, 4):
        pd.DataFrame({"id": range(n), "x": [0.5] * n}).to_parquet(path, index=False)
        datasets.add(path, name="cities")
    from mlops_jupyter.datasets import catalog
    from mlops_jupyter.workspace import Workspace

    md5 = catalog.resolve(Workspace.find(project), "cities@v1").md5
    cached = project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.chmod(0o644)  # read-only, as DVC keeps its cache
    cached.write_bytes(b"PAR1 not really")
    with pytest.raises(MlopsError) as exc:
        datasets.diff("cities@v1", "cities@v2", rows=True)
    assert one_line(exc).startswith("cities@v1 is not a readable parquet file: ")


def test_a_broken_settings_file(project):
    (project / "mlops.toml").write_text("state_dir = [unclosed\n")
    with pytest.raises(MlopsError) as exc:
        datasets.versions()
    assert "mlops.toml is not valid TOML" in one_line(exc)


ADD_SCRIPT = """
import sys
from mlops_jupyter import datasets
print("adding", flush=True)
datasets.add("big.bin", name="big", message="second")
print("done", flush=True)
"""


@pytest.mark.parametrize(
    ("sig", "delay"),
    # kill -9 at whatever point the delay meets (the assertions hold at any point); Ctrl-C is
    # delivered at chosen steps below, which no machine's speed moves
    [(signal.SIGKILL, 0.05), (signal.SIGKILL, 0.4), (signal.SIGKILL, 0.8)],
)
def test_an_interrupted_add_leaves_no_half_version(project, sig, delay):
    big = project / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    datasets.add(big, name="big", message="first")
    first = big.read_bytes()
    big.write_bytes(os.urandom(120 << 20))

    proc = subprocess.Popen(
        [sys.executable, "-c", ADD_SCRIPT],
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "adding"
    time.sleep(delay)
    proc.send_signal(sig)
    proc.wait(timeout=60)

    tags = git(project, "tag", "--list").split()
    assert tags in (["big@v1"], ["big@v1", "big@v2"])  # all or nothing
    if sig == signal.SIGINT and tags == ["big@v1"]:
        # Ctrl-C restores the .dvc file: the workspace looks as before the add.
        assert git(project, "status", "--porcelain") == ""
    loaded = subprocess.run(
        [sys.executable, "-m", "dvc", "get", ".", "big.bin", "--rev", "big@v1", "-o", "v1.bin"],
        cwd=project,
        capture_output=True,
    )
    assert loaded.returncode == 0 and (project / "v1.bin").read_bytes() == first
    (project / "v1.bin").unlink()

    version = datasets.add(big, name="big", message="second")  # the same add again succeeds
    assert version.ref == "big@v2"
    assert git(project, "status", "--porcelain") == ""


# DVC moves a file into its cache, then removes it and links or copies it back (_relink): an
# add stopped between the two must leave the user's file where it was.
STOPPED_IN_RELINK = """
import os, signal, sys
import dvc_data.hashfile.checkout as checkout
from mlops_jupyter import datasets

def removed_then_stopped(link, cache, cache_info, fs, path, in_cache, force, prompt=None):
    checkout._remove(path, fs, in_cache, force=force, prompt=prompt)
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise KeyboardInterrupt

checkout._relink = removed_then_stopped
try:
    datasets.add(sys.argv[2], name="big")
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
@pytest.mark.parametrize("what", ["file", "folder"])
def test_an_add_stopped_inside_dvc_loses_no_file(project, how, what):
    if what == "file":
        data = {project / "big.bin": os.urandom(1 << 16)}
    else:
        data = {project / "shots" / f"{i}.png": os.urandom(1000 + i) for i in range(3)}
    for path, content in data.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
    added = "big.bin" if what == "file" else "shots"
    stopped = subprocess.run(
        [sys.executable, "-c", STOPPED_IN_RELINK, how, added], cwd=project, capture_output=True
    )
    assert stopped.returncode == (0 if how == "ctrl-c" else -signal.SIGKILL), stopped.stderr
    if how == "ctrl-c":  # put back at once
        assert all(p.read_bytes() == content for p, content in data.items())
        assert git(project, "status", "--porcelain") == "?? " + added + ("/" * (what == "folder"))
    version = datasets.add(project / added, name="big")  # after kill -9: put back by the next add
    assert version.ref == "big@v1"
    assert all(p.read_bytes() == content for p, content in data.items())
    assert not (project / ".mlops" / "adding" / added).exists()


# Ctrl-C delivered at a chosen step of the add, however fast or busy the machine: the first
# (or Nth) call of a function, seen by a profile hook in the adding process itself.
ADD_INTERRUPTED_AT = """
import os, signal, sys
from mlops_jupyter import datasets

where, name, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = 0
# Ctrl-C as from a terminal: a test run started in the background inherits SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)

def hook(frame, event, arg):
    global calls
    if event == "call" and frame.f_code.co_name == name and frame.f_code.co_filename.endswith(where):
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), signal.SIGINT)

sys.setprofile(hook)
datasets.add("big.bin", name="big", message="second")
sys.setprofile(None)
print("done", flush=True)
"""


@pytest.mark.parametrize(
    ("where", "name", "nth"),
    [
        ("datasets/dvcstore.py", "add", 1),  # before DVC starts
        ("dvc/output.py", "add", 1),  # DVC hashing the data
        ("dvc_data/hashfile/transfer.py", "transfer", 1),  # into its cache
        ("datasets/dvcstore.py", "write_meta", 1),  # DVC wrote the .dvc file
        ("mlops_jupyter/git.py", "commit_paths", 1),
        ("mlops_jupyter/git.py", "_with_lines", 2),  # branch and tag moved; index catching up
        ("datasets/catalog.py", "resolve", 1),  # committed
        ("datasets/api.py", "_put_back", 1),
    ],
)
def test_ctrl_c_at_any_step_of_an_add_is_all_or_nothing(project, where, name, nth):
    big = project / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    datasets.add(big, name="big", message="first")
    first = big.read_bytes()
    second = os.urandom(4 << 20)
    big.write_bytes(second)
    done = subprocess.run(
        [sys.executable, "-c", ADD_INTERRUPTED_AT, where, name, str(nth)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr, done.stderr[-500:]

    tags = git(project, "tag", "--list").split()
    assert tags in (["big@v1"], ["big@v1", "big@v2"])  # all or nothing
    assert git(project, "status", "--porcelain") == ""  # the .dvc file matches HEAD either way
    assert big.read_bytes() == second  # the user's data is where it was
    version = datasets.add(big, name="big", message="second")  # the same add again: v2
    assert version.ref == "big@v2" and git(project, "status", "--porcelain") == ""
    datasets.checkout("big@v1")
    assert big.read_bytes() == first
