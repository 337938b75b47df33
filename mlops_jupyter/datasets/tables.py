"""Reading tabular files (CSV, Parquet, JSON lines) and profiling them once, at ``add``.

Files are read with Arrow (multi-threaded, typed, timestamps parsed); ``load`` returns the same
table as a pandas DataFrame, so the dtypes a profile records are the ones a user gets.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError, first_line

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
TOP_VALUES = 5
# Dates become datetime64 columns rather than objects, like every other time column.
PANDAS_OPTIONS = {"date_as_object": False}
# Besides ISO 8601, the timestamp spellings common in exported time series.
TIMESTAMP_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M")


def table_format(path: str | Path) -> str | None:
    """The tabular format of a file name, or None when it is not one we read."""
    return FORMATS.get(Path(str(path)).suffix.lower())


def read_arrow(path: Path, fmt: str, display_name: str | None = None) -> pa.Table:
    """Read a tabular file into an Arrow table; a file that does not parse gets a clear error."""
    import pyarrow as pa

    shown = display_name or path.name
    try:
        if fmt in ("csv", "tsv"):
            return _read_csv(path, "\t" if fmt == "tsv" else ",")
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if fmt == "jsonl":
            import pyarrow.json as pj

            return pj.read_json(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MlopsError(f"{shown} is not a readable {fmt} file: {first_line(exc)}") from None
    raise MlopsError(f"{shown}: unknown table format {fmt!r}")


def open_parquet(path: Path, display_name: str | None = None) -> Any:
    """A Parquet file opened for reading by row group (its footer read, no data yet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        shown = display_name or path.name
        raise MlopsError(f"{shown} is not a readable parquet file: {first_line(exc)}") from None


def _read_csv(path: Path, delimiter: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    convert = pcsv.ConvertOptions(
        timestamp_parsers=[pcsv.ISO8601, *TIMESTAMP_FORMATS], strings_can_be_null=True
    )
    parse = pcsv.ParseOptions(delimiter=delimiter)
    try:
        return pcsv.read_csv(path, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "conversion error" not in str(exc).lower():
            raise
    # Arrow infers types from the first block; a column whose type changes later in the file is
    # read by pandas instead, which looks at all of it.
    import pandas as pd

    frame = pd.read_csv(path, sep=delimiter, low_memory=False)
    return pa.Table.from_pandas(frame, preserve_index=False)


def to_pandas(table: pa.Table) -> Any:
    """The DataFrame ``load`` returns for a table."""
    return table.to_pandas(**PANDAS_OPTIONS)


def profile(table: pa.Table) -> dict[str, Any]:
    """Rows, columns, and per column: dtype, count, nulls, min, max, mean, distinct, top values."""
    columns = {name: _column_stats(table.column(name)) for name in table.column_names}
    return {"rows": table.num_rows, "columns": columns}


def _column_stats(col: pa.ChunkedArray) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = col.type
    nulls = col.null_count
    stats: dict[str, Any] = {
        "dtype": _pandas_dtype(kind, nulls),
        "count": len(col) - nulls,
        "nulls": nulls,
    }
    orderable = not (pa.types.is_nested(kind) or pa.types.is_null(kind))
    if orderable and len(col) > nulls:
        minmax = pc.min_max(col)
        stats["min"] = _plain(minmax["min"].as_py())
        stats["max"] = _plain(minmax["max"].as_py())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        stats["mean"] = _plain(pc.mean(col).as_py())
    if orderable:
        values = col.drop_null() if nulls else col
        if _mostly_unique(values):  # ids, timestamps, measurements: top values say nothing
            increasing = _strictly_increasing(values)  # a time index: no hashing needed
            stats["distinct"] = len(values) if increasing else pc.count_distinct(values).as_py()
            return stats
        counts = pc.value_counts(values)
        stats["distinct"] = len(counts)
        if len(counts) > len(values) // 2:
            return stats
        order = pc.select_k_unstable(counts.field("counts"), TOP_VALUES, [("c", "descending")])
        top = counts.take(order)
        stats["top"] = [[_plain(v["values"]), v["counts"]] for v in top.to_pylist()]
    return stats


def _mostly_unique(values: pa.ChunkedArray, sample: int = 10_000) -> bool:
    """Whether more than half the values in a leading sample are distinct (a cheap first look)."""
    import pyarrow.compute as pc

    if len(values) <= sample:
        return False
    head = values.slice(0, sample)
    return pc.count_distinct(head).as_py() > sample // 2


def _strictly_increasing(values: pa.ChunkedArray) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_temporal(values.type) or pa.types.is_integer(values.type)):
        return False
    return bool(pc.all(pc.greater(values.slice(1), values.slice(0, len(values) - 1))).as_py())


def _pandas_dtype(kind: pa.DataType, nulls: int) -> str:
    """The dtype pandas gives an Arrow column of this type (worked out without importing pandas)."""
    import pyarrow as pa

    if pa.types.is_integer(kind):
        return "float64" if nulls else str(kind)
    if pa.types.is_floating(kind):
        return {"halffloat": "float16", "float": "float32", "double": "float64"}[str(kind)]
    if pa.types.is_boolean(kind):
        return "object" if nulls else "bool"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "str" if _pandas_major() >= 3 else "object"
    if pa.types.is_timestamp(kind):
        return f"datetime64[{kind.unit}, {kind.tz}]" if kind.tz else f"datetime64[{kind.unit}]"
    if pa.types.is_date(kind):
        return "datetime64[ms]"
    if pa.types.is_duration(kind):
        return f"timedelta64[{kind.unit}]"
    if pa.types.is_dictionary(kind):
        return "category"
    return "object"


@functools.cache
def _pandas_major() -> int:
    from importlib.metadata import version

    return int(version("pandas").split(".")[0])


def _plain(value: Any) -> Any:
    """A value that YAML and JSON keep as is: numbers, strings, booleans or None."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
