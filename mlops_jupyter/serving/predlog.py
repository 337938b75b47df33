"""The prediction log: every request an endpoint answers, as JSON lines, written before replying.

Each worker process appends to its own file, and a record is in the operating system's hands
before the response is sent: a client that got an answer has its record in the log even if
the server is killed (``kill -9``) the instant after. With the ``prediction_log_fsync``
setting each record also reaches the disk before the answer, and so survives a power loss.

Files rotate at a size and the oldest are removed beyond a total, so the log never grows
without bound. A writer holds a shared ``flock`` on its open file, and retention removes only
files it can lock exclusively: never a file some worker still writes, however quiet. A torn
last line (a kill in the middle of a write) is skipped when reading.

A file closed by rotation is compacted to Parquet (same name, ``.parquet``) in the background:
several times smaller, and readable a column at a time, which is how monitoring reads windows
larger than memory. The JSON file is removed only once its Parquet twin is complete; a kill
meanwhile leaves the JSON file, compacted at the next start or rotation.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024


class PredictionLog:
    """Append-only writer for one worker."""

    def __init__(
        self,
        folder: Path,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        fsync: bool = False,
    ):
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.fsync = fsync
        folder.mkdir(parents=True, exist_ok=True)
        self._fd = -1
        self._size = 0
        self._compacting: threading.Thread | None = None
        self._open()
        self._compact()  # what an earlier writer closed (or a kill left) as JSON

    def _open(self) -> None:
        name = f"predictions-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.time_ns()}.jsonl"
        self.path = self.folder / name
        # Locked before it has its name, so retention never sees it unlocked.
        hidden = self.folder / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.rename(hidden, self.path)
        self._fd, self._size = fd, 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; raises OSError when it could not be written whole."""
        import orjson

        line = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        view = memoryview(line)
        while view:  # a short write (a signal, a full pipe of a slow disk) continues
            view = view[os.write(self._fd, view) :]
        if self.fsync:
            os.fdatasync(self._fd)
        self._size += len(line)
        if self._size >= self.max_file_bytes:
            self.rotate()

    def rotate(self) -> None:
        """Start a new file, then remove the oldest closed files beyond the total, and compact
        the closed JSON files to Parquet in the background."""
        os.close(self._fd)  # releases this file's lock: it is closed for good
        self._open()
        self._retain()
        self._compact()

    def _compact(self) -> None:
        """Compact the closed JSON files in a thread (one at a time), then keep the total
        within bounds again: a small file's Parquet can be larger than its JSON lines."""
        if self._compacting is None or not self._compacting.is_alive():
            self._compacting = threading.Thread(target=self._compact_and_retain, daemon=True)
            self._compacting.start()

    def _compact_and_retain(self) -> None:
        compact_closed(self.folder, fsync=self.fsync)
        self._retain()

    def _retain(self) -> None:
        stats = []
        for path in files(self.folder):
            try:
                stats.append((path.stat().st_mtime, path.stat().st_size, path))
            except FileNotFoundError:  # removed by another worker meanwhile
                continue
        stats.sort()
        total = sum(size for _, size, _ in stats)
        for _, size, old in stats:
            if total <= self.max_total_bytes:
                break
            if old != self.path and _remove_if_closed(old):
                total -= size

    def close(self) -> None:
        """Close the file (it stays JSON lines until a later rotation compacts it), after the
        compaction under way, if any, has finished."""
        if self._compacting is not None:
            self._compacting.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _remove_if_closed(path: Path) -> bool:
    """Remove ``path`` unless a writer holds it open (its lock); whether it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False  # a worker still writes it
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


def files(folder: Path) -> list[Path]:
    """The log's files, oldest first: JSON lines being written (or not compacted yet), and
    Parquet. A file present in both forms (compacted, its JSON not removed yet) counts as
    Parquet. One listing of the folder: two (one per suffix) raced compaction, which could
    make a file be read twice or not at all."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    logged = [n for n in names if n.startswith("predictions-")]
    compacted = {n.removesuffix(".parquet") for n in logged if n.endswith(".parquet")}
    found = [
        n
        for n in logged
        if n.endswith(".parquet") or (n.endswith(".jsonl") and n[:-6] not in compacted)
    ]
    return [folder / n for n in sorted(found, key=lambda n: n.rsplit(".", 1)[0])]


def compact_closed(folder: Path, fsync: bool = False) -> list[Path]:
    """Compact every closed JSON file of the log to Parquet; the Parquet files made."""
    return [made for path in files(folder) if (made := compact(path, fsync)) is not None]


def compact(path: Path, fsync: bool = False) -> Path | None:
    """``path`` (closed JSON lines) as Parquet beside it, then removed; None if it is still
    written, already compacted, or another process compacts it now. With ``fsync`` (the
    log's setting) the Parquet file and its name reach the disk before the JSON file goes:
    a power loss between the two never leaves neither."""
    import pyarrow.parquet as pq

    if path.suffix != ".jsonl":
        return None
    target = path.with_suffix(".parquet")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:  # a writer holds its open file shared; a compaction holds it exclusively
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if not target.exists():
            table = _parse(path.read_bytes())
            hidden = path.with_name(f".{target.name}.new")
            pq.write_table(table, hidden, compression="zstd")
            if fsync:
                _sync(hidden)
            os.replace(hidden, target)
            if fsync:
                _sync(path.parent)
        path.unlink(missing_ok=True)
        return target
    except OSError:  # a full disk, say: the JSON file stays, and is read as it is
        with contextlib.suppress(OSError):
            path.with_name(f".{target.name}.new").unlink()
        return None
    finally:
        os.close(fd)


def _sync(path: Path) -> None:
    """A file's bytes (or a folder's names) on the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(data: bytes) -> Any:
    """JSON lines as a pyarrow Table (a torn last line skipped, a damaged file read leniently)."""
    import pyarrow as pa
    import pyarrow.json as pj

    cut = data.rfind(b"\n") + 1
    if cut == 0:
        return pa.table({"id": pa.array([], pa.string()), "ts": pa.array([], pa.float64())})
    try:
        options = pj.ReadOptions(block_size=8 << 20)  # large blocks: 30% faster than 1 MB
        return pj.read_json(pa.BufferReader(data[:cut]), read_options=options)
    except pa.ArrowInvalid:  # a damaged file: read it line by line, keep what parses
        return _read_lenient(data[:cut])


def read_file(path: Path, columns: list[str] | None = None) -> Any:
    """One file of the log as a pyarrow Table; with ``columns``, only those it has, where
    ``inputs.x`` names field ``x`` of the inputs (a column of that name). Parquet files read
    only those columns."""
    import pyarrow.parquet as pq

    if path.suffix == ".jsonl":
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # compacted since it was listed: its Parquet twin holds it
            path = path.with_suffix(".parquet")
        else:
            return select(_parse(data), columns)
    return read_parquet(pq.ParquetFile(path), columns)


def read_parquet(file: Any, columns: list[str] | None = None) -> Any:
    """``columns`` of an open Parquet file of the log (as :func:`read_file` reads them). An open
    file is read whole even if retention removes it meanwhile: a reader of a window holds
    its files open, so each column it reads comes from the same records."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if columns is None:
        return file.read()
    have = file.schema_arrow
    read: dict[str, Any] = {}
    top = [c for c in columns if "." not in c and c in have.names]
    if top:  # (no columns at all would read every column)
        read.update(zip(top, file.read(columns=top).columns, strict=True))
    for name in (c for c in columns if "." in c and _has(have, c)):
        # by the field's leaf columns: naming the struct field reads every field (20x slower)
        leaves = [file.schema.column(i).path for i in range(len(file.schema))]
        picked = [leaf for leaf in leaves if leaf == name or leaf.startswith(name + ".")]
        parent = file.read(columns=picked).column(0)
        read[name] = pc.struct_field(parent, name.partition(".")[2])
    return pa.table({c: read[c] for c in columns if c in read})


def _has(schema: Any, dotted: str) -> bool:
    import pyarrow as pa

    parent, _, child = dotted.partition(".")
    if parent not in schema.names:
        return False
    kind = schema.field(parent).type
    return pa.types.is_struct(kind) and kind.get_field_index(child) >= 0


def select(table: Any, columns: list[str] | None) -> Any:
    """``columns`` of a table of the log (those it has; ``inputs.x``: field ``x`` of the
    inputs)."""
    import pyarrow.compute as pc

    if columns is None:
        return table
    picked = table.select([c for c in columns if "." not in c and c in table.column_names])
    for name in (c for c in columns if "." in c and _has(table.schema, c)):
        parent, _, child = name.partition(".")
        picked = picked.append_column(name, pc.struct_field(table[parent], child))
    return picked


def read(
    folder: Path,
    since: float | None = None,
    until: float | None = None,
    probes: bool = False,
    shadows: bool = False,
    columns: list[str] | None = None,
) -> Any:
    """The log as a pyarrow Table (one row per request), optionally a time window (epoch s).

    Monitoring's own requests (marked ``probe`` by the server) are left out unless ``probes``:
    they are not traffic. A shadow challenger's answers (``shadow``: never returned to anyone)
    are left out unless ``shadows``. ``columns``: only those (and what the window needs), which
    Parquet files read alone.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if columns is not None:
        columns = list(dict.fromkeys(["id", "ts", "probe", "shadow", *columns]))
    tables = [t for t in tables_of(window_files(folder, since), columns) if t.num_rows]
    if not tables:
        return pa.table({"id": pa.array([], pa.string()), "ts": pa.array([], pa.float64())})
    table = concat(tables)
    table = table.filter(keep(table, since, until, probes, shadows))
    ts = table["ts"]
    if len(ts) > 1 and not pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py():
        table = table.sort_by("ts")  # several workers' files interleave in time
    return table


def tables_of(paths: list[Path], columns: list[str] | None = None) -> Any:
    """Each file's table, in order (a file removed by retention meanwhile is skipped)."""
    for path in paths:
        try:
            yield read_file(path, columns)
        except FileNotFoundError:
            continue


def since_last(folder: Path, n: int) -> float | None:
    """A time from which the log holds at least its last ``n`` records (None: all of it), found
    from the newest files' times alone: a look at the last requests reads no more."""
    return start_of_newest(files(folder), lambda records, size: records >= n)


def start_of_newest(paths: list[Path], enough: Any) -> float | None:
    """The earliest record time of the newest of ``paths`` (by when they were written), taken
    newest first until ``enough(records, bytes)`` of them; None if they never are enough."""
    import pyarrow.compute as pc

    records = size = 0
    start: float | None = None
    for path in sorted(paths, key=modified, reverse=True):
        stamps = next(tables_of([path], ["ts"]), None)
        if stamps is None or not stamps.num_rows:
            continue
        first = float(pc.min(stamps["ts"]).as_py())
        start = first if start is None else min(start, first)
        with contextlib.suppress(FileNotFoundError):  # compacted or removed meanwhile
            size += path.stat().st_size
        records += stamps.num_rows
        if enough(records, size):
            return start - 1e-6  # with every file written since (other workers')
    return None


def modified(path: Path) -> float:
    """When ``path`` was last written (0 for a file removed meanwhile)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def window_files(folder: Path, since: float | None) -> list[Path]:
    """The files that may hold records from ``since`` on (a file last written before holds none)."""
    found = []
    for path in files(folder):
        try:
            if since is None or path.stat().st_mtime >= since:
                found.append(path)
        except FileNotFoundError:  # compacted or removed meanwhile
            continue
    return found


def keep(table: Any, since: float | None, until: float | None, probes: bool = False,
         shadows: bool = False) -> Any:  # fmt: skip
    """Which records of ``table`` are in the window and are traffic (a boolean array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pa.array([True] * table.num_rows) if table.num_rows else pa.array([], pa.bool_())
    if since is not None:
        mask = pc.and_(mask, pc.greater_equal(table["ts"], since))
    if until is not None:
        mask = pc.and_(mask, pc.less(table["ts"], until))
    for column, wanted in (("probe", probes), ("shadow", shadows)):
        if not wanted and column in table.column_names:
            mask = pc.and_(mask, pc.invert(pc.fill_null(table[column], False)))
    return mask


def _read_lenient(data: bytes) -> Any:
    """JSON lines one by one: what parses is kept, and a field whose values differ in type
    from record to record (a model without a signature takes whatever it is sent) is read
    as text, never a failure of the whole read."""
    import orjson

    rows = []
    for line in data.splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return _table_of(rows)


def _table_of(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    names = list(dict.fromkeys(k for row in rows for k in row))
    return pa.table({n: _column([row.get(n) for row in rows]) for n in names})


def _column(values: list[Any]) -> Any:
    """``values`` as one Arrow array: as Arrow infers it, else field by field (objects) or item
    by item (lists), and where types still differ, as text (JSON for what is not a string)."""
    import orjson
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    present = [v for v in values if v is not None]
    missing = pa.array([v is None for v in values])
    if present and all(isinstance(v, dict) for v in present):
        keys = list(dict.fromkeys(k for v in present for k in v))
        fields = [_column([None if v is None else v.get(k) for v in values]) for k in keys]
        return pa.StructArray.from_arrays(fields, names=keys, mask=missing)
    if present and all(isinstance(v, list) for v in present):
        offsets, items = [0], list[Any]()
        for v in values:
            items.extend(v or [])
            offsets.append(len(items))
        inner = _column(items)
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), inner, mask=missing)
    return pa.array(
        [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values],
        pa.string(),
    )


def concat(tables: list[Any]) -> Any:
    """The tables as one, their types promoted as Arrow can; where two files disagree on a
    field (numbers in one, text in another), rebuilt as :func:`_column` reads one file."""
    import pyarrow as pa

    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _table_of([row for table in tables for row in table.to_pylist()])
