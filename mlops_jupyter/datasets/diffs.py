"""What changed between two versions: schema, row count and per-column statistics; and for
folders, the files added, deleted, modified and renamed.

Statistics come from the profiles stored at ``add``, files from DVC's listing of each folder
version (from the cache, or the remote): instant however large the data, and no checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalog import Version

STATISTICS = ("dtype", "count", "nulls", "min", "max", "mean", "distinct")


@dataclass
class DatasetDiff:
    """The changes from version ``a`` to version ``b``.

    ``table`` has one row per (column, statistic) with both values, the change and a ``status``
    (``added``, ``removed``, ``changed`` or ``same``); dataset-level rows come first.
    """

    a: Version
    b: Version
    table: Any  # pandas.DataFrame

    @property
    def changed(self) -> Any:
        """Only the rows that differ."""
        return self.table[self.table["status"] != "same"].reset_index(drop=True)

    @property
    def schema_changes(self) -> dict[str, list[str]]:
        """Columns added, removed, and whose dtype changed."""
        t = self.table
        dtype = t[t["statistic"] == "dtype"]
        return {
            status: dtype[dtype["status"] == status]["column"].tolist()
            for status in ("added", "removed", "changed")
        }

    def summary(self) -> str:
        ch = self.schema_changes
        rows_a, rows_b = self.a.rows, self.b.rows
        parts = [f"{self.a.ref} -> {self.b.ref}"]
        if rows_a is not None and rows_b is not None:
            parts.append(f"rows {rows_a:,} -> {rows_b:,} ({rows_b - rows_a:+,})")
        for label, key in (("added", "added"), ("removed", "removed"), ("retyped", "changed")):
            if ch[key]:
                parts.append(f"{label}: {', '.join(ch[key])}")
        n = int((self.table["status"] == "changed").sum())
        parts.append(f"{n} statistic{'s' if n != 1 else ''} changed")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<DatasetDiff {self.summary()}>"

    def _ipython_display_(self) -> None:
        from ..views import table

        table.show(self.table, status="status", title=self.summary())


def headline(a: Version | None, b: Version) -> str:
    """What changed from ``a`` (the version before) to ``b`` in a few words, from the summaries
    stored with each version alone: ``-7 rows, +2 columns``."""
    if a is None:
        return "first version"
    if a.md5 == b.md5:
        return "same content"
    parts = []
    for what, before, after in (("row", a.rows, b.rows), ("column", a.columns, b.columns),
                                ("file", a.files, b.files)):  # fmt: skip
        if before is not None and after is not None and before != after:
            change = after - before
            parts.append(f"{change:+,} {what}{'s' if abs(change) != 1 else ''}")
    same = "same file count, content changed" if b.is_dir else "same shape, values changed"
    return ", ".join(parts) or same


def compute(a: Version, b: Version, prof_a: dict[str, Any], prof_b: dict[str, Any]) -> DatasetDiff:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for stat in ("rows", "columns", "size", "files", "md5"):
        va, vb = getattr(a, stat), getattr(b, stat)
        if va is not None or vb is not None:
            rows.append(_row("(dataset)", stat, va, vb))
    cols_a, cols_b = prof_a.get("columns", {}), prof_b.get("columns", {})
    for col in [*cols_a, *(c for c in cols_b if c not in cols_a)]:
        sa, sb = cols_a.get(col), cols_b.get(col)
        for stat in STATISTICS:
            va = sa.get(stat) if sa else None
            vb = sb.get(stat) if sb else None
            if sa is not None and sb is not None and va is None and vb is None:
                continue
            row = _row(col, stat, va, vb)
            if sa is None:
                row["status"] = "added"
            elif sb is None:
                row["status"] = "removed"
            rows.append(row)
    table = pd.DataFrame(rows, columns=["column", "statistic", "a", "b", "change", "status"])
    return DatasetDiff(a, b, table)


def _row(column: str, stat: str, va: Any, vb: Any) -> dict[str, Any]:
    change: Any = None
    if _is_number(va) and _is_number(vb):
        change = vb - va
        if stat != "mean" and va:
            change = f"{vb - va:+,} ({(vb - va) / abs(va):+.1%})"
        elif stat == "mean":
            change = f"{vb - va:+.4g}"
    status = "same" if va == vb else "changed"
    return {
        "column": column,
        "statistic": stat,
        "a": va,
        "b": vb,
        "change": change,
        "status": status,
    }


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


FILE_STATUSES = ("added", "deleted", "modified", "renamed")


@dataclass
class FileDiff:
    """The files that changed from folder version ``a`` to ``b``, as ``dvc diff`` names them.

    ``table`` has one row per changed file: ``path``, ``status`` (``added``, ``deleted``,
    ``modified``, or ``renamed``: the same content under a new path, ``old_path``), and the
    sizes before and after (None where the object is not in the local cache). ``statistics``
    is the :class:`DatasetDiff` of the folder's tables (empty for other files).
    """

    a: Version
    b: Version
    table: Any  # pandas.DataFrame
    statistics: DatasetDiff

    def counts(self) -> dict[str, int]:
        return {s: int((self.table["status"] == s).sum()) for s in FILE_STATUSES}

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items())
        return f"{self.a.ref} -> {self.b.ref}: files {counts}"

    def __repr__(self) -> str:
        return f"<FileDiff {self.summary()}>"

    def _ipython_display_(self) -> None:
        from ..views import table

        table.show(self.table, status="status", title=self.summary())


def files(
    a: Version,
    b: Version,
    listing_a: list[dict[str, Any]],
    listing_b: list[dict[str, Any]],
    size_of: Any,
    statistics: DatasetDiff,
) -> FileDiff:
    """Compare two DVC folder listings (``[{"relpath": ..., "md5": ...}]``); ``size_of(md5)``
    gives an object's size or None."""
    import pandas as pd

    old = {e["relpath"]: e["md5"] for e in listing_a}
    new = {e["relpath"]: e["md5"] for e in listing_b}
    added = [p for p in new if p not in old]
    deleted = [p for p in old if p not in new]
    rows: list[dict[str, Any]] = []
    gone: dict[str, list[str]] = {}  # content -> deleted paths that held it
    for path in deleted:
        gone.setdefault(old[path], []).append(path)
    for path in sorted(added):
        source = gone.get(new[path])
        if source:  # the same content under a new path
            was = source.pop(0)
            rows.append(_file(path, "renamed", new[path], new[path], size_of, was))
        else:
            rows.append(_file(path, "added", None, new[path], size_of))
    for path in sorted(p for paths in gone.values() for p in paths):
        rows.append(_file(path, "deleted", old[path], None, size_of))
    for path in sorted(p for p in new if p in old and old[p] != new[p]):
        rows.append(_file(path, "modified", old[path], new[path], size_of))
    order = {s: i for i, s in enumerate(FILE_STATUSES)}
    rows.sort(key=lambda r: (order[r["status"]], r["path"]))
    table = pd.DataFrame(rows, columns=["path", "status", "size_a", "size_b", "old_path"])
    return FileDiff(a, b, table, statistics)


def _file(path: str, status: str, md5_a: str | None, md5_b: str | None, size_of: Any,
          old_path: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "path": path,
        "status": status,
        "size_a": size_of(md5_a) if md5_a else None,
        "size_b": size_of(md5_b) if md5_b else None,
        "old_path": old_path,
    }
