"""Row and cell diffs of two table versions, as Dolt shows them: rows added, removed and
changed, and for a changed row its cells before and after.

Computed with Arrow and numpy, never a loop over rows. Rows are matched by a key: the columns
given, else a column the versions' profiles know to be unique in both, else the whole row (then a
changed row shows as one removed and one added, and so does a row with an empty cell, as empty
never equals empty in a join). A key of whole numbers in ascending order in both versions (ids,
as most exports keep them) is matched chunk by chunk as the versions are read, a Parquet file a
row group at a time: one read of each file, and the memory of a chunk rather than of both
tables. Any other key is matched by sorting (whole numbers) or by Arrow's hash joins, on the
tables read whole. Columns added, dropped, renamed (a dropped column whose values an added one
holds, row for row) or retyped are named as such.
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


CHUNK_ROWS = 1 << 20  # rows of version a matched at a time, on a streamed key
RUNS_AT_MOST = 2_000  # runs of rows matched one for one in a chunk, compared as slices


def compute(a: Version, b: Version, ta: Any, tb: Any, key: list[str] | None,
            profiles: tuple[dict, dict]) -> RowDiff:  # fmt: skip
    """The row diff of version ``a`` and ``b``, each an Arrow table or the path of a Parquet
    file (read as needed)."""
    sa, sb = _Source(ta, a), _Source(tb, b)
    columns = _columns(sa, sb)
    for old, new in columns.pop("_renames"):
        sb.names[old] = sb.names.pop(new)  # compared under its old name
    common = [c for c in sa.names if c in sb.names]
    sa.as_text = sb.as_text = set(columns["retyped"])  # compared as text
    if key:
        missing = [k for k in key if k not in common]
        if missing:
            raise MlopsError(f"key {', '.join(missing)} is not a column of both versions; "
                             f"columns: {', '.join(common)}")  # fmt: skip
        key_from = "given"
    else:
        key = _unique_key(common, profiles, (sa.num_rows, sb.num_rows))
        key_from = "unique in both versions" if key else "the whole row"
        key = key or common
    values = [c for c in common if c not in key]
    ids = _ids(sa, sb, key) if key_from != "the whole row" else None  # (a row may repeat)
    if ids is not None and all(_ascending(k) for k in ids):
        removed, added, changed, cells = _streamed(sa, sb, key[0], ids, values)
    else:
        removed, added, changed, cells = _whole(a, b, sa, sb, key, key_from, ids, common, values)
    rows = _frame(key, values, removed, added, changed)
    return RowDiff(a, b, key, key_from, rows, cells, columns)


class _Source:
    """One version's table: an Arrow table, or a Parquet file read a row group at a time.
    ``names`` maps the names compared to the stored ones (a renamed column); columns in
    ``as_text`` are read as text (a retyped column)."""

    def __init__(self, data: Any, version: Version) -> None:
        import pyarrow as pa

        from .tables import open_parquet

        self.table = data if isinstance(data, pa.Table) else None
        self.path = None if self.table is not None else data
        self.file: Any = None if self.path is None else open_parquet(self.path, version.ref)
        self.schema = self.file.schema_arrow if self.file else data.schema
        self.names = {n: n for n in self.schema.names}
        self.as_text: set[str] = set()
        self.num_rows = self.file.metadata.num_rows if self.file else len(data)
        self.groups = self.file.num_row_groups if self.file else 1

    def type(self, name: str) -> Any:
        return self.schema.field(self.names[name]).type

    def group(self, index: int, names: list[str]) -> Any:
        """Row group ``index`` (the whole table, for an Arrow table) of the columns ``names``."""
        stored = [self.names[n] for n in names]
        if self.table is not None:
            return self._named(self.table.select(stored), names)
        return self._named(self.file.read_row_group(index, columns=stored), names)

    def read(self, names: list[str]) -> Any:
        """The columns ``names``, all rows (row groups read in parallel)."""
        import pyarrow.parquet as pq

        if self.table is not None or self.groups == 1:
            return self.group(0, names)
        return self._named(pq.read_table(self.path, columns=[self.names[n] for n in names]), names)

    def _named(self, table: Any, names: list[str]) -> Any:
        import pyarrow as pa

        table = table.rename_columns(names)
        for name in self.as_text & set(names):
            at = names.index(name)
            table = table.set_column(at, name, table[name].cast(pa.string()))
        return table


class _Rows:
    """Consecutive rows of a source's ``names`` columns, read a row group at a time."""

    def __init__(self, source: _Source, names: list[str]) -> None:
        self.source, self.names = source, names
        self.parts: list[Any] = []
        self.start = self.buffered = self.next_group = 0

    def until(self, end: int) -> Any:
        """The rows from where the last call ended to ``end`` (exclusive)."""
        import pyarrow as pa

        while self.start + self.buffered < end:
            part = self.source.group(self.next_group, self.names)
            self.next_group += 1
            self.parts.append(part)
            self.buffered += len(part)
        if not self.parts:
            return self.source.group(0, self.names).slice(0, 0)
        table = self.parts[0] if len(self.parts) == 1 else pa.concat_tables(self.parts)
        taken, rest = table.slice(0, end - self.start), table.slice(end - self.start)
        self.parts, self.buffered, self.start = [rest], len(rest), end
        return taken


def _ids(sa: _Source, sb: _Source, key: list[str]) -> tuple[Any, Any] | None:
    """Both versions' key as numpy arrays, for one key column of whole numbers never empty."""
    import pyarrow as pa

    if len(key) != 1 or not all(pa.types.is_integer(s.type(key[0])) for s in (sa, sb)):
        return None
    ka, kb = (s.read(key).column(0) for s in (sa, sb))
    if ka.null_count or kb.null_count:
        return None
    return ka.to_numpy(), kb.to_numpy()


def _ascending(keys: Any) -> bool:
    return bool(np.all(keys[1:] > keys[:-1]))


def _streamed(sa: _Source, sb: _Source, key: str, ids: tuple[Any, Any],
              values: list[str]) -> tuple[Any, Any, Any, dict[str, int]]:  # fmt: skip
    """Removed, added and changed rows, matched chunk by chunk on keys ascending in both (the
    next chunk read while this one is compared)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    ka, kb = ids
    cuts_a = [*range(0, max(len(ka), 1), CHUNK_ROWS), len(ka)]  # one chunk at least
    cuts_b = [0, *(int(np.searchsorted(kb, ka[i])) for i in cuts_a[1:-1]), len(kb)]
    chunks = list(zip(cuts_a, cuts_a[1:], cuts_b, cuts_b[1:], strict=False))
    ra, rb = _Rows(sa, values), _Rows(sb, values)
    removed, added, changed = [], [], []
    cells = dict.fromkeys(values, 0)

    def read(chunk: tuple[int, int, int, int]) -> tuple[Any, Any]:
        return ra.until(chunk[1]), rb.until(chunk[3])

    with ThreadPoolExecutor(1) as reader:
        ahead = reader.submit(read, chunks[0])
        for number, (a0, a1, b0, b1) in enumerate(chunks):
            ca, cb = ahead.result()
            if number + 1 < len(chunks):
                ahead = reader.submit(read, chunks[number + 1])
            ca, cb = (t.append_column(key, pa.array(k[s:e])).append_column(
                ROW, pa.array(np.arange(s, e))) for t, k, s, e in
                ((ca, ka, a0, a1), (cb, kb, b0, b1)))  # fmt: skip
            in_b, in_a = _matched_sorted(ka[a0:a1], kb[b0:b1])
            removed.append(ca.filter(pa.array(~in_b)))
            added.append(cb.filter(pa.array(~in_a)))
            part, counts = _changed_aligned(*_aligned(ca, cb, in_b, in_a), key, values)
            changed.append(part)
            for name, n in counts.items():
                cells[name] += n
    return (pa.concat_tables(removed), pa.concat_tables(added), pa.concat_tables(changed),
            cells)  # fmt: skip


def _matched_sorted(ka: Any, kb: Any) -> tuple[Any, Any]:
    """For keys ascending (and unique) in both: which rows of ``a`` have a match in ``b``,
    and which of ``b`` in ``a``."""
    if not len(ka) or not len(kb):
        return np.zeros(len(ka), dtype=bool), np.zeros(len(kb), dtype=bool)
    low = min(ka[0], kb[0])
    span = int(max(ka[-1], kb[-1])) - int(low)
    if span <= 8 * (len(ka) + len(kb)):  # dense ids: a mark per id, 1 for a and 2 for b
        marks = np.zeros(span + 1, dtype=np.uint8)
        marks[ka - low] |= 1
        marks[kb - low] |= 2
        return marks[ka - low] == 3, marks[kb - low] == 3
    pos = np.searchsorted(ka, kb)
    in_a = pos < len(ka)
    in_a[in_a] = ka[pos[in_a]] == kb[in_a]
    in_b = np.zeros(len(ka), dtype=bool)
    in_b[pos[in_a]] = True
    return in_b, in_a


def _aligned(ca: Any, cb: Any, in_b: Any, in_a: Any) -> tuple[Any, Any]:
    """The matched rows of two chunks, in the same order on both sides: the runs of rows
    matched one for one as slices (no copy), or when there are many, the rows copied."""
    import pyarrow as pa

    at, bt = np.flatnonzero(in_b), np.flatnonzero(in_a)
    breaks = np.flatnonzero((np.diff(at) != 1) | (np.diff(bt) != 1)) + 1
    if not len(at) or len(breaks) > RUNS_AT_MOST:
        return ca.filter(pa.array(in_b)), cb.filter(pa.array(in_a))
    bounds = [0, *breaks.tolist(), len(at)]
    runs = list(zip(bounds, bounds[1:], strict=False))
    return (pa.concat_tables([ca.slice(at[s], e - s) for s, e in runs]),
            pa.concat_tables([cb.slice(bt[s], e - s) for s, e in runs]))  # fmt: skip


def _whole(a: Version, b: Version, sa: _Source, sb: _Source, key: list[str], key_from: str,
           ids: tuple[Any, Any] | None, common: list[str],
           values: list[str]) -> tuple[Any, Any, Any, dict[str, int]]:  # fmt: skip
    """Removed, added and changed rows of the tables read whole."""
    import pyarrow as pa

    ta, tb = (s.read(common) for s in (sa, sb))
    ta, tb = (t.append_column(ROW, pa.array(np.arange(len(t)))) for t in (ta, tb))
    if ids is not None:  # matched by sorting, cheaper than three hash joins
        gone, new, at, bt = _match_sorted(key[0], *ids, a, b)
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
    return removed, added, changed, cells


def _columns(sa: _Source, sb: _Source) -> dict[str, Any]:
    """Columns added, dropped, renamed (same values, row for row) and retyped."""
    added = [c for c in sb.names if c not in sa.names]
    dropped = [c for c in sa.names if c not in sb.names]
    renames: list[tuple[str, str]] = []
    if sa.num_rows == sb.num_rows:
        for old in dropped:
            for new in added:
                if new not in [n for _, n in renames] and sa.read([old]).column(0).equals(
                    sb.read([new]).column(0)
                ):
                    renames.append((old, new))
                    break
    added = [c for c in added if c not in [n for _, n in renames]]
    dropped = [c for c in dropped if c not in [o for o, _ in renames]]
    retyped = [c for c in sa.names if c in sb.names and sa.type(c) != sb.type(c)]
    return {"added": added, "dropped": dropped, "renamed": [f"{o} -> {n}" for o, n in renames],
            "retyped": retyped, "_renames": renames}  # fmt: skip


def _unique_key(common: list[str], profiles: tuple[dict, dict],
                rows: tuple[int, int]) -> list[str]:  # fmt: skip
    """A column the profiles (made at ``add``) show to be unique and never null in both."""
    for name in common:
        stats = [p.get("columns", {}).get(name) or {} for p in profiles]
        if all(s.get("nulls") == 0 and s.get("distinct") == n for s, n in
               zip(stats, rows, strict=True)):  # fmt: skip
            return [name]
    return []


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
    in_b, in_a = _matched_sorted(sa, sb)  # the k-th match of a is the k-th of b
    return (np.sort(oa[np.flatnonzero(~in_b)]), np.sort(ob[np.flatnonzero(~in_a)]),
            oa[np.flatnonzero(in_b)], ob[np.flatnonzero(in_a)])  # fmt: skip


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
        differs = _differs(ta[name].take(at), tb[name].take(bt))
        cells[name] = pc.sum(differs).as_py() or 0
        mask = pc.or_(mask, differs)
    hits = pairs.filter(mask).sort_by(f"{ROW}.b")
    ia, ib = hits[f"{ROW}.a"], hits[f"{ROW}.b"]
    columns = {k: tb[k].take(ib) for k in key}
    for name in values:
        columns[f"{name}.a"], columns[f"{name}.b"] = ta[name].take(ia), tb[name].take(ib)
    return pa.table(columns), cells


def _changed_aligned(ta: Any, tb: Any, key: str,
                     values: list[str]) -> tuple[Any, dict[str, int]]:  # fmt: skip
    """As ``_changed``, for tables whose rows are matched position by position."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cells: dict[str, int] = {}
    mask = pa.array(np.zeros(len(ta), dtype=bool))
    for name in values:
        differs = _differs(ta[name], tb[name])
        cells[name] = pc.sum(differs).as_py() or 0
        mask = pc.or_(mask, differs)
    ha, hb = ta.filter(mask), tb.filter(mask)
    columns = {key: hb[key]}
    for name in values:
        columns[f"{name}.a"], columns[f"{name}.b"] = ha[name], hb[name]
    return pa.table(columns), cells


def _differs(left: Any, right: Any) -> Any:
    """Where two columns differ, an empty cell differing from any value but another empty."""
    import pyarrow.compute as pc

    differs = pc.fill_null(pc.not_equal(left, right), False)
    if left.null_count or right.null_count:
        differs = pc.or_(differs, pc.xor(pc.is_null(left), pc.is_null(right)))
    return differs


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
