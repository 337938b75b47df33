"""What a run records about where it ran: code version, Python, packages, notebook."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

_DIST = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.dist-info$")
_cache: tuple[tuple[float, ...], list[tuple[str, str]]] | None = None


def packages() -> list[tuple[str, str]]:
    """Installed distributions as (name, version), read from the ``.dist-info`` folder names.

    Cached until a site folder changes (``pip install`` touches it), so recording it is cheap.
    """
    global _cache
    folders = [p for p in sys.path if p and os.path.isdir(p)]
    stamp = tuple(os.stat(p).st_mtime for p in folders)
    if _cache is not None and _cache[0] == stamp:
        return _cache[1]
    found: dict[str, str] = {}
    for folder in folders:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = _DIST.match(entry.name)
                if match:
                    name = re.sub(r"[-_.]+", "-", match["name"]).lower()
                    found.setdefault(name, match["version"])
    _cache = (stamp, sorted(found.items()))
    return _cache[1]


def requirements() -> str:
    """The installed packages as pinned requirement lines (what serving compares against)."""
    return "".join(f"{name}=={version}\n" for name, version in packages())


def pins(model_folder: str | os.PathLike[str]) -> dict[str, str]:
    """The packages a logged model pins (its ``requirements.txt`` lines ``name==version``)."""
    path = Path(model_folder) / "requirements.txt"
    found = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        package, sep, version = line.strip().partition("==")
        if sep:
            found[package.lower().replace("_", "-")] = version
    return found


def pin_mismatches(model_pins: dict[str, str]) -> list[str]:
    """Each pinned package whose installed version differs: ``name pinned (serving: found)``."""
    installed = dict(packages())
    return [
        f"{p} {v} (serving: {installed.get(p, 'missing')})"
        for p, v in sorted(model_pins.items())
        if installed.get(p) != v
    ]


def git_state(root: Path) -> dict[str, str]:
    """The commit checked out, its branch, and whether tracked files had changes."""
    out = subprocess.run(
        ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {}
    state: dict[str, str] = {"dirty": "false"}
    for line in out.stdout.splitlines():
        if line.startswith("# branch.oid ") and "(initial)" not in line:
            state["commit"] = line.split()[2]
        elif line.startswith("# branch.head "):
            state["branch"] = line.split(maxsplit=2)[2]
        elif not line.startswith("#"):
            state["dirty"] = "true"
    return state


def python() -> dict[str, str]:
    return {"version": platform.python_version(), "platform": platform.platform()}


def notebook_path(user_ns: dict[str, Any] | None = None) -> str | None:
    """The notebook a kernel runs, when Jupyter or papermill told it (else None)."""
    candidates = [
        os.environ.get("MLOPS_JUPYTER_NOTEBOOK"),
        (user_ns or {}).get("__session__"),  # ipykernel >= 6.15, set by Jupyter Server
        os.environ.get("JPY_SESSION_NAME"),
    ]
    for value in candidates:
        if isinstance(value, str) and value.endswith(".ipynb") and os.path.isfile(value):
            return os.path.abspath(value)
    return None
