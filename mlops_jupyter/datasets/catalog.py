"""The versions that exist, read from git: one annotated tag ``NAME@vN`` per version.

A version's tag message is the user's message followed by one summary line (path, hash, size,
rows, columns), so listing every version of every dataset is a single ``git for-each-ref``.
The full per-column profile lives in the version's ``.dvc`` file (its ``meta`` field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import git as gitcmd
from ..errors import NotFoundError, close_matches
from ..workspace import Workspace
from . import dvcstore
from .refs import Ref, check_name, parse, tag_name

SUMMARY_PREFIX = "mlops-jupyter: "
SUMMARY_KEYS = ("path", "md5", "size", "files", "format", "rows", "columns", "stage", "run")
PROFILE_PREFIX = "mlops-jupyter-profile: "
META_KEY = "mlops-jupyter"


@dataclass(frozen=True, repr=False)
class Version:
    """One version of a dataset: where its data is, what it holds, and why it was made."""

    name: str
    number: int | None
    rev: str
    commit: str
    path: str
    md5: str
    size: int | None = None
    files: int | None = None
    format: str | None = None
    rows: int | None = None
    columns: int | None = None
    message: str = ""
    created: datetime | None = None
    stage: str | None = None
    run: str | None = None

    @property
    def ref(self) -> str:
        """How to name this version: ``NAME@vN``, or ``NAME@<rev>`` for an untagged one."""
        return tag_name(self.name, self.number) if self.number else f"{self.name}@{self.rev}"

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def __repr__(self) -> str:
        return f"<Version {self}>"

    def __str__(self) -> str:
        shape = f"{self.rows:,} rows x {self.columns} columns" if self.rows is not None else ""
        parts = [self.ref, self.path, shape, _size(self.size)]
        return " · ".join(p for p in parts if p)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover


def summary_of(
    path: str, out: dict[str, Any], fmt: str | None, profile: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The summary a version's tag carries, from DVC's output entry and the table's profile."""
    return {
        "path": path,
        "md5": out["md5"],
        "size": out.get("size"),
        "files": out.get("nfiles"),
        "format": fmt,
        "rows": profile.get("rows"),
        "columns": len(profile["columns"]) if profile else None,
        **extra,
    }


def tag_message(
    message: str, summary: dict[str, Any], profile: dict[str, Any] | None = None
) -> str:
    """The user's message, then one line of ``SUMMARY_KEYS`` that ``versions`` reads back.

    A version without a ``.dvc`` file of its own (a pipeline's output, recorded in ``dvc.lock``)
    keeps its profile in the message too, on a line before the summary.
    """
    known = {k: summary[k] for k in SUMMARY_KEYS if summary.get(k) is not None}
    text = message.strip() + "\n\n"
    if profile:
        text += f"{PROFILE_PREFIX}{json.dumps(profile, sort_keys=True, default=str)}\n"
    return f"{text}{SUMMARY_PREFIX}{json.dumps(known, sort_keys=True)}"


_FORMAT = "%(refname:strip=2)%00%(*objectname)%00%(taggerdate:unix)%00%(contents)%00"


def versions(ws: Workspace, name: str | None = None) -> list[Version]:
    """Every version of ``name`` (or of every dataset), oldest first within a dataset."""
    pattern = f"refs/tags/{check_name(name)}@v*" if name else "refs/tags/*@v*"
    out = gitcmd.git(ws.root, "for-each-ref", f"--format={_FORMAT}", pattern)
    found = [v for v in map(_parse_record, out.split("\x00\n")) if v is not None]
    return sorted(found, key=lambda v: (v.name, v.number or 0))


def _parse_record(record: str) -> Version | None:
    fields = record.lstrip("\n").split("\x00")
    if len(fields) < 4:
        return None
    tag, commit, when, contents = fields[:4]
    name, _, spec = tag.rpartition("@")
    number = Ref(name, spec).number
    body, _, summary_line = contents.rstrip("\n").rpartition(SUMMARY_PREFIX)
    if number is None or not commit or not summary_line:
        return None  # someone else's tag, or a lightweight one
    try:
        summary = json.loads(summary_line.splitlines()[0])
    except json.JSONDecodeError:
        return None
    created = datetime.fromtimestamp(int(when), tz=timezone.utc) if when else None
    body = "\n".join(line for line in body.splitlines() if not line.startswith(PROFILE_PREFIX))
    return Version(
        name=name,
        number=number,
        rev=tag,
        commit=commit,
        message=body.strip(),
        created=created,
        **{k: summary.get(k) for k in SUMMARY_KEYS},
    )


def names(ws: Workspace) -> list[str]:
    return sorted({v.name for v in versions(ws)})


def resolve(ws: Workspace, ref: str | Ref) -> Version:
    """The version ``ref`` names: ``NAME``, ``NAME@vN``, ``NAME@latest`` or ``NAME@<revision>``."""
    ref = parse(ref) if isinstance(ref, str) else ref
    known = versions(ws, ref.name)
    if not known:
        raise NotFoundError(f"no dataset named {ref.name!r}; {close_matches(ref.name, names(ws))}")
    if ref.spec == "latest":
        return known[-1]
    if ref.number is not None:
        for v in known:
            if v.number == ref.number:
                return v
        listed = ", ".join(f"v{v.number}" for v in known[-10:])
        raise NotFoundError(f"{ref} does not exist; {ref.name} has versions {listed}")
    return _at_revision(ws, ref, known)


def _at_revision(ws: Workspace, ref: Ref, known: list[Version]) -> Version:
    latest = known[-1]
    commit = gitcmd.resolve(ws.root, ref.spec)
    if commit is None:
        raise NotFoundError(
            f"{ref}: {ref.spec!r} is neither a version (v1..v{latest.number}) "
            "nor a git revision of this repository"
        )
    text = gitcmd.show_file(ws.root, commit, latest.path + ".dvc")
    if text is None:
        raise NotFoundError(f"{ref}: {latest.path} was not tracked by DVC at {ref.spec}")
    out = dvcstore.read_dvc_file(text, latest.path)
    meta = out["meta"].get(META_KEY, {}) if isinstance(out["meta"], dict) else {}
    for v in known:
        if v.md5 == out.get("md5") and v.commit == commit:
            return v  # the revision is a tagged version after all
    return Version(
        name=ref.name,
        number=None,
        rev=ref.spec,
        commit=commit,
        path=latest.path,
        md5=out.get("md5", ""),
        size=out.get("size"),
        files=out.get("nfiles"),
        format=meta.get("format"),
        rows=meta.get("rows"),
        columns=len(meta["columns"]) if "columns" in meta else None,
        message=out.get("desc") or "",
    )


def profile_of(ws: Workspace, version: Version) -> dict[str, Any]:
    """The profile stored with ``version`` at ``add`` (empty for files that are not tables)."""
    text = gitcmd.show_file(ws.root, version.commit, version.path + ".dvc")
    if text is None:
        return _profile_in_tag(ws, version)
    meta = dvcstore.read_dvc_file(text, version.path)["meta"]
    return meta.get(META_KEY, {}) if isinstance(meta, dict) else {}


def _profile_in_tag(ws: Workspace, version: Version) -> dict[str, Any]:
    if version.number is None:
        return {}
    message = gitcmd.git(ws.root, "cat-file", "tag", version.ref, check=False) or ""
    for line in message.splitlines():
        if line.startswith(PROFILE_PREFIX):
            return dict(json.loads(line.removeprefix(PROFILE_PREFIX)))
    return {}
