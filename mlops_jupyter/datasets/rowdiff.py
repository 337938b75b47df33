"""Row and cell diffs of two table versions, as Dolt shows them: rows added, removed and
changed, and for a changed row its cells before and after.

Computed with Arrow's hash joins, or for a key of whole numbers (ids) a sorted match in numpy
(cheaper than three joins), never a loop over rows. Rows are matched by a key: the columns given,
else a column the versions' profiles know to be unique in both, else the whole row (then a changed
row shows as one removed and one added, and so does a row with an empty cell, as empty never
equals empty in a join). Columns added, dropped, renamed (a dropped column whose values an added
one holds, row for row) or retyped are named as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import MlopsError
from .catalog import Version

ROW = "__row"  # a row's position, kept through the joins


@dataclass
class RowDiff:
    """What changed, row by row, from version ``a`` to ``b``.

    ``rows`` has one row per difference: ``diff_type`` (added, removed, changed), the key, then
    ``from_COL`` and ``to_COL`` for every other column. ``key`` names the key and ``key_from``
    says where it came from.
    """

    a: Version
    b: Version
    key: list[str]
    key_from: str  # "given", "unique in both versions" or "the whole row"
    rows: Any  # pandas.DataFrame
    cells: dict[str, int] = field(default_factory=dict)  # changed cells per column
    columns: dict[str, list[str]] = field(default_factory=dict)  # added, dropped, renamed, retyped

    def count(self, kind: str) -> int:
        return int((self.rows["diff_type"] == kind).sum())

    def summary(self) -> str:
        added, removed, changed = (self.count(k) for k in ("added", "removed", "changed"))
        parts = [f"+{added:,} row{'s' if added != 1 else ''}",
                 f"-{removed:,} row{'s' if removed != 1 else ''}",
                 f"{changed:,} row{'s' if changed != 1 else ''} changed"]  # fmt: skip
        where = [c for c, n in self.cells.items() if n]
        if changed and where:
            parts[-1] += f" in {', '.join(where)}"
        for kind, names in self.columns.items():
            if names:
                parts.append(f"columns {kind}: {', '.join(names)}")
        key = "the whole row"
        if self.key_from != key:
            key = f"{', '.join(self.key)}, {self.key_from}"
        return f"{self.a.ref} -> {self.b.ref}: {', '.join(parts)} (key: {key})"

    def __repr__(self) -> str:
        return f"<RowDiff {self.summary()}>"

    def _ipython_display_(self) -> None:
        from ..views import table

        pairs = [(f"from_{c}", f"to_{c}") for c in self.values]
        table.show(self.rows, status="diff_type", title=self.summary(), pairs=pairs)

    @property
    def values(self) -> list[str]:
        """The columns compared cell by cell (both versions have them; the key aside)."""
        return [c[len("from_") :] for c in self.rows.columns if c.startswith("from_")]


def compute(a: Version, b: Version, ta: Any, tb: Any, key: list[str] | None,
            profiles: tuple[dict, dict]) -> RowDiff:  # fmt: skip
    """The row diff of Arrow tables ``ta`` (version ``a``) and ``tb`` (``b``)."""
    import pyarrow as pa

    columns = _columns(ta, tb)
    for old, new in columns.pop("_renames"):
        tb = tb.rename_columns([old if c == new else c for c in tb.column_names])
    common = [c for c in ta.column_names if c in tb.column_names]
    for name in columns["retyped"]:  # compared as text
        ta = ta.set_column(ta.column_names.index(name), name, ta[name].cast(pa.string()))
        tb = tb.set_column(tb.column_names.index(name), name, tb[name].cast(pa.string()))
    if key:
        missing = [k for k in key if k not in common]
        if missing:
            raise MlopsError(f"key {', '.join(missing)} is not a column of both versions; "
                             f"columns: {', '.join(common)}")  # fmt: skip
        key_from = "given"
    else:
        key = _unique_key(common, profiles, ta, tb)
        key_from = "unique in both versions" if key else "the whole row"
        key = key or common
    values = [c for c in common if c not in key]
    ta, tb = (t.select(common).append_column(ROW, pa.array(np.arange(len(t)))) for t in (ta, tb))
    ids = key_from != "the whole row" and _whole_numbers(ta, tb, key)  # (a row may repeat)
    if ids:  # matched by sorting, cheaper than three hash joins
        ka, kb = (t[key[0]].to_numpy() for t in (ta, tb))
        gone, new, at, bt = _match_sorted(key[0], ka, kb, a, b)
        removed, added = ta.take(gone), tb.take(new)
        pairs = pa.table({f"{ROW}.a": at, f"{ROW}.b": bt})
    else:
        if key_from == "given":  # a key the profiles found is unique; a whole row needs not be
            for table, version in ((ta, a), (tb, b)):
                _check_unique(table, key, version)
        removed = ta.join(tb.select(key), keys=key, join_type="left anti")
        added = tb.join(ta.select(key), keys=key, join_type="left anti")
        # matched rows: only their positions are joined, then the cells compared side by side
        pairs = ta.select([*key, ROW]).join(tb.select([*key, ROW]), keys=key, join_type="inner",
                                            left_suffix=".a", right_suffix=".b")  # fmt: skip
    changed, cells = _changed(ta, tb, pairs, key, values)
    rows = _frame(key, values, removed, added, changed)
    return RowDiff(a, b, key, key_from, rows, cells, columns)


def _columns(ta: Any, tb: Any) -> dict[str, Any]:
    """Columns added, dropped, renamed (same values, row for row) and retyped."""
    added = [c for c in tb.column_names if c not in ta.column_names]
    dropped = [c for c in ta.column_names if c not in tb.column_names]
    renames: list[tuple[str, str]] = []
    if len(ta) == len(tb):
        for old in dropped:
            for new in added:
                if new not in [n for _, n in renames] and ta[old].equals(tb[new]):
                    renames.append((old, new))
                    break
    added = [c for c in added if c not in [n for _, n in renames]]
    dropped = [c for c in dropped if c not in [o for o, _ in renames]]
    retyped = [c for c in ta.column_names if c in tb.column_names and ta[c].type != tb[c].type]
    return {"added": added, "dropped": dropped, "renamed": [f"{o} -> {n}" for o, n in renames],
            "retyped": retyped, "_renames": renames}  # fmt: skip


def _unique_key(common: list[str], profiles: tuple[dict, dict], ta: Any, tb: Any) -> list[str]:
    """A column the profiles (made at ``add``) show to be unique and never null in both."""
    for name in common:
        stats = [p.get("columns", {}).get(name) or {} for p in profiles]
        if all(s.get("nulls") == 0 and s.get("distinct") == len(t) for s, t in
               zip(stats, (ta, tb), strict=True)):  # fmt: skip
            return [name]
    return []


def _whole_numbers(ta: Any, tb: Any, key: list[str]) -> bool:
    import pyarrow as pa

    return len(key) == 1 and all(
        pa.types.is_integer(t[key[0]].type) and t[key[0]].null_count == 0 for t in (ta, tb)
    )


def _match_sorted(name: str, ka: Any, kb: Any, a: Version, b: Version) -> tuple[Any, Any, Any, Any]:
    """Rows of ``a`` only, rows of ``b`` only, and the matched pairs, by a key of whole
    numbers (refused if repeated)."""
    orders = []
    for keys, version in ((ka, a), (kb, b)):
        order = None if bool(np.all(keys[1:] > keys[:-1])) else np.argsort(keys, kind="stable")
        ordered = keys if order is None else keys[order]
        repeats = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
        if repeats:
            raise MlopsError(f"key {name} is not unique in {version.ref} ({repeats:,} rows "
                             "repeat a key); give columns that are, with --key")  # fmt: skip
        orders.append((ordered, order if order is not None else np.arange(len(keys))))
    (sa, oa), (sb, ob) = orders
    pos = np.searchsorted(sa, sb)
    found = pos < len(sa)
    found[found] = sa[pos[found]] == sb[found]
    in_a = np.zeros(len(sa), dtype=bool)
    in_a[pos[found]] = True
    return np.sort(oa[~in_a]), np.sort(ob[~found]), oa[pos[found]], ob[found]


def _check_unique(table: Any, key: list[str], version: Version) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table[key[0]]
    if len(key) == 1 and column.null_count == 0 and pa.types.is_integer(column.type):
        values = np.sort(column.to_numpy())  # cheaper than Arrow's hash count, by 3-4x
        distinct = len(table) - int(np.count_nonzero(values[1:] == values[:-1]))
    elif len(key) == 1:
        distinct = pc.count_distinct(column, mode="all").as_py()
    else:
        distinct = len(table.group_by(key).aggregate([([], "count_all")]))
    duplicated = len(table) - distinct
    if duplicated:
        raise MlopsError(f"key {', '.join(key)} is not unique in {version.ref} ({duplicated:,} "
                         "rows repeat a key); give columns that are, with --key")  # fmt: skip


def _changed(ta: Any, tb: Any, pairs: Any, key: list[str],
             values: list[str]) -> tuple[Any, dict[str, int]]:  # fmt: skip
    """The matched rows whose cells differ (both sides' cells, in b's order), and how many
    cells differ per column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    at, bt = pairs[f"{ROW}.a"], pairs[f"{ROW}.b"]
    cells: dict[str, int] = {}
    mask = pa.array(np.zeros(len(pairs), dtype=bool))
    for name in values:
        left, right = ta[name].take(at), tb[name].take(bt)
        differs = pc.fill_null(pc.not_equal(left, right), False)
        differs = pc.or_(differs, pc.xor(pc.is_null(left), pc.is_null(right)))
        cells[name] = pc.sum(differs).as_py() or 0
        mask = pc.or_(mask, differs)
    hits = pairs.filter(mask).sort_by(f"{ROW}.b")
    ia, ib = hits[f"{ROW}.a"], hits[f"{ROW}.b"]
    columns = {k: tb[k].take(ib) for k in key}
    for name in values:
        columns[f"{name}.a"], columns[f"{name}.b"] = ta[name].take(ia), tb[name].take(ib)
    return pa.table(columns), cells


def _frame(key: list[str], values: list[str], removed: Any, added: Any, changed: Any) -> Any:
    import pandas as pd

    from .tables import to_pandas

    def part(table: Any, kind: str, source: dict[str, str]) -> Any:
        frame = to_pandas(table.select([*key, *source.values()]))
        frame.columns = [*key, *source]
        frame.insert(0, "diff_type", kind)
        return frame

    before = {f"from_{c}": c for c in values}
    after = {f"to_{c}": c for c in values}
    frames = [
        part(
            changed,
            "changed",
            {**{f"from_{c}": f"{c}.a" for c in values}, **{f"to_{c}": f"{c}.b" for c in values}},
        ),  # fmt: skip
        part(removed.sort_by(ROW), "removed", before),
        part(added.sort_by(ROW), "added", after),
    ]
    order = ["diff_type", *key, *(x for c in values for x in (f"from_{c}", f"to_{c}"))]
    frames = [f for f in frames if len(f)] or [pd.DataFrame(columns=order)]
    return pd.concat(frames, ignore_index=True).reindex(columns=order)
