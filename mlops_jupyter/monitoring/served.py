"""The inputs an endpoint served in a window, read from its prediction log one column at a time.

For windows larger than memory. Which requests count (answered, in the window, traffic rather
than probes or shadows, of the version asked) is decided once from the log's small columns; an
input column is then read on its own when asked (a Parquet file reads only that column), so a
drift report holds a column or two at a time, not the window. The statistics are the same as on
the whole window in memory.

>>> served = ServedColumns.scan(folder, since=None, until=None)
>>> served["rooms"]               # one column, every row served: a pandas Series
>>> for part in served.chunks(["rooms", "age"]): ...   # rows a file at a time
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .api import flatten, row_counts

IN_MEMORY_BYTES = 256 * 1024 * 1024  # larger windows of log are read a column at a time
SMALL = ["ts", "status", "probe", "shadow", "version"]


@dataclass
class _Part:
    path: Path
    keep: Any  # pyarrow boolean array: the file's records that count
    rows: int  # the rows those records hold
    table: Any = None  # a JSON file's records, parsed once (Parquet files are read per column)
    counts: Any = None  # rows per kept request, where columns may differ in length (else None)
    file: Any = None  # a Parquet file, held open: retention removing it cannot misalign columns

    def read(self, columns: list[str]) -> Any:
        """``columns`` of the part's records (those it has), from its parsed table or its
        open file."""
        from ..serving import predlog

        if self.table is not None:
            return predlog.select(self.table, columns)
        return predlog.read_parquet(self.file, columns)


class ServedColumns:
    """A frame-like view of the served inputs: ``columns``, ``dtypes``, ``len()``,
    ``frame[name]`` (a Series), ``frame[names]`` (a view of those columns) and ``chunks``."""

    def __init__(self, parts: list[_Part], dtypes: dict[str, Any], columns: list[str]):
        self._parts = parts
        self.dtypes = dtypes
        self.columns = columns

    @classmethod
    def scan(
        cls,
        folder: Path,
        since: float | None,
        until: float | None,
        version: str | None = None,
        last: int | None = None,
    ) -> ServedColumns | None:
        """The requests answered with a prediction in the window (``last``: the most recent
        ``last`` of them), by ``version`` if given; None if there are none."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        from ..serving import predlog

        parts, stamps, schemas = [], [], []
        for path in predlog.window_files(folder, since):
            whole = path.suffix == ".jsonl"  # still written, or not compacted yet: parse once
            file = None
            try:
                if whole:  # (compacted since it was listed: read from its Parquet twin)
                    table = predlog.read_file(path)
                else:
                    file = pq.ParquetFile(path)  # held open from here on
                    table = predlog.read_parquet(file, SMALL)
            except FileNotFoundError:
                continue  # removed by retention meanwhile
            if "status" not in table.column_names:
                continue  # empty
            schemas.append(file.schema_arrow if file is not None else table.schema)
            keep = predlog.keep(table, since, until)
            keep = pc.and_(keep, pc.fill_null(pc.equal(table["status"], 200), False))
            if version is not None and "version" in table.column_names:
                same = pc.equal(table["version"].cast(pa.string()), str(version))
                keep = pc.and_(keep, pc.fill_null(same, False))
            parts.append(_Part(path, keep, 0, table if whole else None, file=file))
            stamps.append(table["ts"])
        if last is not None:
            _keep_last(parts, stamps, last)
        dtypes = _input_types(schemas)
        parts = [p for p in parts if pc.any(p.keep).as_py()]
        if not parts or not dtypes:
            return None
        for part in parts:  # how many rows each file's kept requests hold
            if _ragged(part, list(dtypes)):  # a column some requests left out (no signature)
                fields = [f for c in dtypes if (f := _field(part, c)) is not None]
                part.counts = row_counts(fields)
                part.rows = int(part.counts.sum())
                continue
            lists = next(f for c in dtypes if (f := _field(part, c)) is not None)
            part.rows = int(pc.sum(pc.list_value_length(lists)).as_py() or 0)
        return cls(parts, dtypes, list(dtypes))

    def __len__(self) -> int:
        return sum(p.rows for p in self._parts)

    def __getitem__(self, key: str | list[str]) -> Any:
        if isinstance(key, list):
            missing = [k for k in key if k not in self.dtypes]
            if missing:
                raise KeyError(missing)
            return ServedColumns(self._parts, {k: self.dtypes[k] for k in key}, list(key))
        if key not in self.dtypes:
            raise KeyError(key)
        return _series(key, [_values(_field(p, key), p) for p in self._parts], self.dtypes[key])

    def outputs(self) -> Any:
        """One prediction per row served, as a Series (None when outputs are not one value
        per row, as for ``api.outputs_of``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pieces = []
        for part in self._parts:
            table = part.read(["outputs"])
            if "outputs" not in table.column_names:
                return None
            kind = table.schema.field("outputs").type
            if not pa.types.is_list(kind) or pa.types.is_nested(kind.value_type):
                return None
            pieces.append(
                pc.list_flatten(pc.filter(_as_scanned(table["outputs"], part), part.keep))
            )
        return _series("outputs", pieces, None).rename(None)

    def chunks(self, columns: list[str], rows: int = 250_000) -> Iterator[Any]:
        """The rows served, at most ``rows`` at a time (a file of the log read at a time), as
        DataFrames of ``columns``."""
        import pandas as pd

        for part in self._parts:
            values = {c: _values(_field(part, c), part) for c in columns}
            for start in range(0, part.rows, rows):
                yield pd.DataFrame({
                    c: _series(c, [None if v is None else v.slice(start, rows)], self.dtypes[c])
                    for c, v in values.items()
                })  # fmt: skip


def _keep_last(parts: list[_Part], stamps: list[Any], last: int) -> None:
    """Keep only the ``last`` most recent kept requests across the files (ties: as the
    in-memory path orders them, by time and then file order)."""
    import pyarrow as pa

    kept = [np.flatnonzero(p.keep.to_numpy(zero_copy_only=False)) for p in parts]
    times = [ts.cast(pa.float64()).to_numpy(zero_copy_only=False) for ts in stamps]
    every = np.concatenate([t[i] for t, i in zip(times, kept, strict=True)] or [np.array([])])
    if len(every) <= last:
        return
    chosen = np.zeros(len(every), dtype=bool)
    chosen[np.argsort(every, kind="stable")[len(every) - last :]] = True
    start = 0
    for part, where in zip(parts, kept, strict=True):
        mask = np.zeros(len(part.keep), dtype=bool)
        mask[where[chosen[start : start + len(where)]]] = True
        start += len(where)
        part.keep = pa.array(mask)


def _input_types(schemas: list[Any]) -> dict[str, Any]:
    """Each input column's values type (numpy), from the files' schemas."""
    import pyarrow as pa

    types: dict[str, Any] = {}
    for schema in schemas:
        if "inputs" not in schema.names or not pa.types.is_struct(schema.field("inputs").type):
            continue
        for field in schema.field("inputs").type:
            value = field.type.value_type if pa.types.is_list(field.type) else field.type
            kind = _numpy_type(value)
            types[field.name] = kind if field.name not in types else _wider(types[field.name], kind)
    return types


def _numpy_type(kind: Any) -> Any:
    import pyarrow as pa

    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        return np.dtype("float64")  # as the in-memory path reads them (nulls as NaN)
    if pa.types.is_boolean(kind):
        return np.dtype("bool")
    return np.dtype("O")


def _wider(a: Any, b: Any) -> Any:
    return a if a == b else np.dtype("O") if "O" in (a.kind, b.kind) else np.dtype("float64")


def _field(part: _Part, name: str) -> Any:
    """Field ``name`` of the inputs of the part's kept requests (a list array), or None."""
    import pyarrow.compute as pc

    table = part.read([f"inputs.{name}"])
    if table.num_columns == 0:
        return None
    return pc.filter(_as_scanned(table.column(0), part), part.keep)


def _as_scanned(column: Any, part: _Part) -> Any:
    """The records the part held when scanned: a file still written has grown since (it only
    appends, and its Parquet twin keeps the order)."""
    return column.slice(0, len(part.keep))


def _values(lists: Any, part: _Part) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if part.counts is None:
        return None if lists is None else pc.list_flatten(lists)
    if lists is None:  # a column no kept request of this file sent
        return pa.nulls(part.rows)
    return flatten(lists, part.counts)


def _ragged(part: _Part, names: list[str]) -> bool:
    """Whether the part's requests may differ in how many values each input column holds (a
    model without a signature takes a request that leaves a column out). Parquet files say
    so in their metadata: every input leaf with as many values, none null, is not ragged."""

    if part.table is not None:
        return True  # parsed already: counted exactly, at no read
    meta = part.file.metadata
    leaves = [i for i in range(meta.num_columns)
              if meta.schema.column(i).path.startswith("inputs.")]  # fmt: skip
    if len(leaves) < len(names):
        return True  # a column some file never had
    for group in range(meta.num_row_groups):
        chunks = [meta.row_group(group).column(i) for i in leaves]
        if len({c.num_values for c in chunks}) > 1:
            return True
        if any(c.statistics is None or c.statistics.null_count != 0 for c in chunks):
            return True
    return False


def _series(name: str, pieces: list[Any], dtype: Any | None) -> Any:
    """The values of one column over the parts, as a Series of ``dtype`` (None: as typed)."""
    import pandas as pd
    import pyarrow as pa

    arrays = [c for p in pieces if p is not None for c in getattr(p, "chunks", [p])]
    if not arrays:
        return pd.Series([], dtype=dtype or "float64", name=name)
    if len({a.type for a in arrays}) > 1:  # files typed it differently (ints, then floats)
        numbers = all(pa.types.is_integer(a.type) or pa.types.is_floating(a.type) for a in arrays)
        kind = pa.float64() if numbers or (dtype is not None and dtype.kind == "f") else pa.string()
        arrays = [a.cast(kind) for a in arrays]
    series = pa.chunked_array(arrays).to_pandas()
    if dtype is not None and dtype.kind == "f" and series.dtype.kind != "f":
        series = series.astype("float64")  # ints, with None as NaN
    series.name = name
    return series
