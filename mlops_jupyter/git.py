"""The few git plumbing commands the package runs, with git's own message on failure."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    """The text of ``path`` at ``rev``, or None when it is not there (``rev`` ``:path`` with
    an empty ``path``: what the index holds)."""
    spec = rev if rev.startswith(":") else f"{rev}:{path}"
    proc = subprocess.run(
        ["git", "cat-file", "blob", spec], cwd=root, capture_output=True, text=True
    )
    return proc.stdout if proc.returncode == 0 else None


def git_path(root: Path, name: str) -> Path:
    """Where git keeps ``name`` for this checkout (``.git`` is a file in a worktree or a
    submodule, so never assume ``root / ".git"``)."""
    return root / git(root, "rev-parse", "--git-path", name)


@contextmanager
def locked(root: Path, timeout: float = 120) -> Iterator[None]:
    """Hold the project's lock for the package's commits: one at a time across processes, so
    that two adds never race for a version number or for HEAD."""
    path = git_path(root, "mlops-jupyter.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MlopsError(
                        f"another mlops-jupyter command has held {path} for over "
                        f"{timeout:.0f} s; let it finish, then run this again"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def commit_paths(
    root: Path,
    paths: list[str],
    message: str,
    tag: str | None = None,
    tag_message: str = "",
    more_tags: list[tuple[str, str]] | None = None,
    ignore_lines: dict[str, list[str]] | None = None,
) -> str:
    """Commit exactly ``paths`` on top of HEAD (and tag the commit) as one atomic step.

    The commit is built in a private index, so whatever else the user has staged or changed is
    neither committed nor disturbed. A path in ``ignore_lines`` (a ``.gitignore``) is committed
    as HEAD's version plus those lines, and the lines are added to what the user staged of it:
    the user's own unstaged lines stay theirs. The branch and the tag move together in one ref
    transaction: an interruption leaves either both or neither. Returns the new commit.
    """
    parent = head(root)
    lines = ignore_lines or {}
    index = git_path(root, f"mlops-index-{os.getpid()}")
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        if parent:
            git(root, "read-tree", parent, env=env)
        plain = [p for p in paths if p not in lines]
        if plain:
            git(root, "add", "-f", "--", *plain, env=env)
        for path, added in lines.items():
            base = show_file(root, parent, path) if parent else None
            _stage(root, path, _with_lines(base or "", added), env)
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
    try:
        git(
            root,
            "update-ref",
            "--stdin",
            "-m",
            f"mlops-jupyter: {message.splitlines()[0]}",
            input=f"start\n{updates}prepare\ncommit\n",
        )
    except MlopsError:
        raise MlopsError(
            "the branch or a tag moved while this commit was made (another commit at the same "
            "time?); nothing was committed: run it again"
        ) from None
    # The user's index now lags HEAD for these paths only; bring just them up to date.
    if plain:
        git(root, "reset", "-q", "HEAD", "--", *plain)
    for path, added in lines.items():
        staged = git(root, "ls-files", "-s", "--", path).split()
        current = show_file(root, f":{path}", "") if staged else show_file(root, "HEAD", path)
        _stage(root, path, _with_lines(current or "", added), None)
    return commit


def _with_lines(text: str, lines: list[str]) -> str:
    """``text`` with each of ``lines`` appended unless it has it already."""
    have = set(text.splitlines())
    missing = [line for line in lines if line not in have]
    if not missing:
        return text
    return text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(missing) + "\n"


def _stage(root: Path, path: str, text: str, env: dict[str, str] | None) -> None:
    """Put ``text`` as ``path`` into an index (the user's when ``env`` is None)."""
    blob = git(root, "hash-object", "-w", "--stdin", "--path", path, input=text)
    git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
