"""The user's data and git state are never overwritten or swept into a commit."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from helpers import git

from mlops_jupyter import datasets, tracking
from mlops_jupyter.errors import MlopsError


def test_checkout_refuses_data_no_version_holds_even_without_its_dvc_file(project):
    data = project / "prices.csv"
    data.write_text("day,price\n1,10\n")
    datasets.add(data, name="prices")
    data.write_text("day,price\n1,10\n2,11\n")
    datasets.add(data, name="prices")
    (project / "prices.csv.dvc").unlink()  # an older branch, or a deleted .dvc file
    data.write_text("day,price\n1,99\n")  # the user's own work
    with pytest.raises(MlopsError, match=r"prices.csv holds 15 bytes that no version holds; a checkout would lose it.*--force"):  # fmt: skip
        datasets.checkout("prices@v1")
    assert data.read_text() == "day,price\n1,99\n"

    data.write_text("day,price\n1,10\n2,11\n")  # what v2 holds: nothing to lose
    datasets.checkout("prices@v1")
    assert data.read_text() == "day,price\n1,10\n"
    data.write_text("day,price\n1,99\n")
    datasets.checkout("prices@v2", force=True)
    assert data.read_text() == "day,price\n1,10\n2,11\n"


def test_checkout_of_a_folder_names_the_files_it_would_lose(project):
    folder = project / "images"
    folder.mkdir()
    (folder / "cat.png").write_bytes(b"cat")
    datasets.add(folder, name="images")
    (folder / "dog.png").write_bytes(b"dog")
    with pytest.raises(MlopsError, match=r"1 file\(s\) that no version holds \(dog.png\)"):
        datasets.checkout("images@v1")
    assert (folder / "dog.png").exists()


def test_add_commits_its_own_ignore_lines_and_leaves_the_users_state_alone(project):
    (project / "data").mkdir()
    ignore = project / "data" / ".gitignore"
    ignore.write_text("*.tmp\n")
    git(project, "add", "data/.gitignore")
    git(project, "commit", "-q", "-m", "ignore temporaries")
    ignore.write_text("*.tmp\n*.bak\n")
    git(project, "add", "data/.gitignore")  # staged by the user
    ignore.write_text("*.tmp\n*.bak\nscratch/\n")  # and a line not staged
    (project / "data" / "a.csv").write_text("x\n1\n")

    datasets.add(project / "data" / "a.csv")

    assert git(project, "show", "HEAD:data/.gitignore") == "*.tmp\n/a.csv"
    assert git(project, "show", ":data/.gitignore") == "*.tmp\n*.bak\n/a.csv"
    assert ignore.read_text() == "*.tmp\n*.bak\nscratch/\n/a.csv\n"
    status = git(project, "status", "--porcelain")
    assert status == "MM data/.gitignore"  # the user's staged and unstaged lines, as before


def test_two_processes_adding_one_name_at_once_leave_one_version_and_nothing_else(project):
    (project / "big.csv").write_text("x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(200_000)))
    git(project, "commit", "-q", "--allow-empty", "-m", "start")
    code = "from mlops_jupyter import datasets; print(datasets.add('big.csv', name='big').ref)"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=project, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(out.strip() for out, _ in outs) == ["big@v1", "big@v1"]
    said = [err for _, err in outs if "already holds this data" in err]
    assert len(said) == 1 and "Traceback" not in "".join(err for _, err in outs)
    assert git(project, "tag", "--list") == "big@v1"
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.parametrize("kind", ["worktree", "submodule"])
def test_datasets_in_a_git_worktree_and_a_submodule(repo, tmp_path, monkeypatch, kind):
    datasets.init(repo)
    if kind == "worktree":
        inner = tmp_path / "feature"
        git(repo, "worktree", "add", "-q", "-b", "feature", str(inner))
    else:
        lib = tmp_path / "lib"
        lib.mkdir()
        git(lib, "init", "-q", "-b", "main")
        git(lib, "commit", "-q", "--allow-empty", "-m", "lib")
        git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
        inner = repo / "lib"
    assert (inner / ".git").is_file()
    monkeypatch.chdir(inner)
    (inner / "a.csv").write_text("x\n1\n2\n")
    version = datasets.add("a.csv")
    assert version.ref == "a@v1" and datasets.load("a@v1")["x"].tolist() == [1, 2]
    assert git(inner, "status", "--porcelain") == ""


def test_the_state_folder_is_ignored_whatever_makes_it(repo):
    with tracking.run(name="first", project=repo):  # a plain repository: no dataset init
        tracking.log_metric("m", 1.0)
    assert (repo / ".mlops" / "mlflow.db").exists()
    assert git(repo, "status", "--porcelain", "--ignored=no") == ""
    git(repo, "add", "-A")
    assert git(repo, "diff", "--cached", "--name-only") == ""  # `git add -A` takes nothing


@pytest.mark.parametrize("damage", ["write", "chmod_write", "to_csv", "remove", "add"])
def test_a_loaded_folder_version_cannot_damage_the_cache_from_its_path(project, damage):
    """``load`` of a folder version hands out a path; whatever is done through it (as root,
    mode 0444 stops no write), DVC's cache and every version sharing a file keep their bytes,
    and the next load gives the version as it was."""
    images = project / "data" / "images"
    images.mkdir(parents=True)
    for name in ("cat.png", "dog.png"):
        (images / name).write_bytes(name.encode())
    datasets.add(images, name="images")
    (images / "emu.png").write_bytes(b"emu")
    datasets.add(images, name="images")  # v2 shares cat.png and dog.png with v1

    loaded = datasets.load("images@v1")
    cat = loaded / "cat.png"
    if damage == "write":
        with open(cat, "w") as out:  # as root: allowed whatever the mode
            out.write("scribbled")
    elif damage == "chmod_write":
        cat.chmod(0o644)
        cat.write_bytes(b"scribbled")
    elif damage == "to_csv":
        pd.DataFrame({"a": [1]}).to_csv(cat)
    elif damage == "remove":
        cat.unlink()
    else:
        (loaded / "extra.png").write_bytes(b"extra")

    again = datasets.load("images@v1")
    assert sorted(p.name for p in again.iterdir()) == ["cat.png", "dog.png"]
    assert (again / "cat.png").read_bytes() == b"cat.png"
    assert (datasets.load("images@v2") / "cat.png").read_bytes() == b"cat.png"
    cache = project / ".dvc" / "cache" / "files" / "md5"
    for obj in (o for o in cache.rglob("*") if o.is_file() and not o.name.endswith(".dir")):
        assert hashlib.md5(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name  # intact
    shutil.rmtree(images)
    datasets.checkout("images@v2")
    assert (images / "cat.png").read_bytes() == b"cat.png"
