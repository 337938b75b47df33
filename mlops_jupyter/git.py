"""The few git plumbing commands the package runs, with git's own message on failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import MlopsError

ZERO = "0" * 40


def git(
    root: Path,
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> str:
    """Run ``git args`` in ``root`` and return its stdout without the trailing newline."""
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
        )
    except FileNotFoundError:
        raise MlopsError("git is not installed; install it (apt-get install git)") from None
    if check and proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        detail = _explain(lines) or (lines[-1] if lines else f"exit code {proc.returncode}")
        raise MlopsError(f"git {args[0]} failed: {detail}")
    return proc.stdout.rstrip("\n")


def _explain(lines: list[str]) -> str | None:
    text = "\n".join(lines)
    if "Please tell me who you are" in text or "empty ident name" in text:
        return (
            "git does not know who you are; run `git config --global user.name 'Your Name'` "
            "and `git config --global user.email you@example.com`"
        )
    return None


def head(root: Path) -> str | None:
    """The commit HEAD points at, or None on a branch with no commits yet."""
    out = git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    return out or None


def resolve(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names, or None."""
    if rev.startswith("-"):
        return None
    out = git(
        root, "rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}", check=False
    )
    return out or None


def show_file(root: Path, rev: str, path: str) -> str | None:
    """The text of ``path`` at ``rev``, or None when it is not there."""
    proc = subprocess.run(
        ["git", "cat-file", "blob", f"{rev}:{path}"], cwd=root, capture_output=True, text=True
    )
    return proc.stdout if proc.returncode == 0 else None


def commit_paths(
    root: Path,
    paths: list[str],
    message: str,
    tag: str | None = None,
    tag_message: str = "",
    more_tags: list[tuple[str, str]] | None = None,
) -> str:
    """Commit exactly ``paths`` on top of HEAD (and tag the commit) as one atomic step.

    The commit is built in a private index, so whatever else the user has staged or changed is
    neither committed nor disturbed. The branch and the tag move together in one ref transaction:
    an interruption leaves either both or neither. Returns the new commit.
    """
    parent = head(root)
    index = root / ".git" / f"mlops-index-{os.getpid()}"
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        if parent:
            git(root, "read-tree", parent, env=env)
        git(root, "add", "-f", "--", *paths, env=env)
        tree = git(root, "write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    parents = ["-p", parent] if parent else []
    commit = git(root, "commit-tree", tree, *parents, "-m", message)
    updates = f"update HEAD {commit} {parent or ZERO}\n"
    tags = ([(tag, tag_message)] if tag else []) + list(more_tags or [])
    tagger = git(root, "var", "GIT_COMMITTER_IDENT") if tags else ""
    for name, text in tags:
        tag_object = git(
            root,
            "mktag",
            input=f"object {commit}\ntype commit\ntag {name}\ntagger {tagger}\n\n{text}\n",
        )
        updates += f"create refs/tags/{name} {tag_object}\n"
    git(
        root,
        "update-ref",
        "--stdin",
        "-m",
        f"mlops-jupyter: {message.splitlines()[0]}",
        input=f"start\n{updates}prepare\ncommit\n",
    )
    # The user's index now lags HEAD for these paths only; bring just them up to date.
    git(root, "reset", "-q", "HEAD", "--", *paths)
    return commit
