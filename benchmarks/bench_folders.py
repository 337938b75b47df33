"""A folder of many small files: add, diff and load against DVC's own, side by side in one run.

    .venv/bin/python benchmarks/bench_folders.py [--files 100000]

Each side works in a fresh project of its own, as a user would from the shell: `dvc add`,
`dvc diff` of two commits and `dvc checkout` of the first against `datasets.add`,
`datasets.diff` of the two versions and `datasets.load` of the first (a read-only path of hard
links to DVC's cache, the workspace untouched). Version 2 deletes 1% of the files, adds as many
and changes 1%. Prints each time and the ratio (target: within 1.2x of DVC's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "folders"
PY = sys.executable
DVC = str(Path(sys.executable).parent / "dvc")
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
    "DVC_NO_ANALYTICS": "1",
}


def timed(root: Path, *cmd: str) -> float:
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=root, env=ENV, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {out.stderr.strip()[-500:]}")
    return time.perf_counter() - started


def fresh(name: str, ours: bool) -> Path:
    root = WORK / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    timed(root, "git", "init", "-q")
    if ours:
        timed(root, PY, "-c", "from mlops_jupyter import datasets; datasets.init()")
    else:
        timed(root, DVC, "init", "-q")
        timed(root, "git", "commit", "-qm", "dvc init")
    return root


def write_files(folder: Path, count: int) -> None:
    """``count`` small files (about 1 kB each) in 100 subfolders."""
    for i in range(count):
        sub = folder / f"part{i % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"item{i:06d}.txt").write_bytes(f"item {i}\n".encode() * 100)


def revise(folder: Path, count: int) -> None:
    """Version 2: 1% deleted, 1% added, 1% changed."""
    step = 100
    for i in range(0, count, step):
        (folder / f"part{i % 100:02d}" / f"item{i:06d}.txt").unlink()
        (folder / f"part{(i + 1) % 100:02d}" / f"item{i + 1:06d}.txt").write_bytes(b"changed\n")
        (folder / f"part{i % 100:02d}" / f"new{i:06d}.txt").write_bytes(b"new\n" * 50)


def dvc_side(count: int) -> dict[str, float]:
    root = fresh("dvc", ours=False)
    write_files(root / "images", count)
    add = timed(root, DVC, "add", "-q", "images")
    timed(root, "git", "add", "images.dvc", ".gitignore")
    timed(root, "git", "commit", "-qm", "v1")
    revise(root / "images", count)
    timed(root, DVC, "add", "-q", "images")
    timed(root, "git", "commit", "-qam", "v2")
    diff = timed(root, DVC, "diff", "HEAD~1", "HEAD")
    timed(root, "git", "checkout", "-q", "HEAD~1", "--", "images.dvc")
    checkout = timed(root, DVC, "checkout", "-q", "images")
    return {"add": add, "diff": diff, "load": checkout}


OURS_ADD = "from mlops_jupyter import datasets; datasets.add('images', name='images')"
OURS_DIFF = "from mlops_jupyter import datasets; print(datasets.diff('images@v1', 'images@v2'))"
OURS_LOAD = "from mlops_jupyter import datasets; print(datasets.load('images@v1'))"


def our_side(count: int) -> dict[str, float]:
    root = fresh("ours", ours=True)
    write_files(root / "images", count)
    add = timed(root, PY, "-c", OURS_ADD)
    revise(root / "images", count)
    timed(root, PY, "-c", OURS_ADD)
    diff = timed(root, PY, "-c", OURS_DIFF)
    load = timed(root, PY, "-c", OURS_LOAD)
    return {"add": add, "diff": diff, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    theirs = dvc_side(args.files)
    ours = our_side(args.files)
    print(f"a folder of {args.files:,} small files (each command a fresh process, as from a shell)")
    for step, what in (("add", "dvc add"), ("diff", "dvc diff"), ("load", "dvc checkout")):
        ratio = ours[step] / theirs[step]
        print(f"  {step:<5} ours {ours[step]:6.1f} s   {what:<13} {theirs[step]:6.1f} s   "
              f"{ratio:.2f}x DVC's time (target <= 1.2x)")  # fmt: skip


if __name__ == "__main__":
    main()
