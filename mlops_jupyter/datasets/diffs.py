"""What changed between two versions: schema, row count and per-column statistics.

Computed from the profiles stored at ``add``, so it is instant however large the data.
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
