"""Monitoring an endpoint: its served inputs (from the prediction log) against a reference.

The reference is, by default, the dataset version the served model's run trained on (lineage),
or any ``NAME@vN`` or DataFrame given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from . import windows
from .multivariate import reconstruction_drift
from .statistics import DriftReport, Thresholds, report

PathLike = str | os.PathLike[str]


def answered(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "1d",
    project: PathLike | None = None,
    version: str | None = None,
) -> Any:
    """The log of the requests an endpoint answered with a prediction in ``window`` (pyarrow).

    ``window`` is "1h", "1d", "7d", a number of most recent requests, a (start, end) pair of
    epoch seconds, or None for everything logged. ``version``: only what that model version
    answered.
    """
    import pyarrow.compute as pc

    from ..serving import predlog

    folder = log_folder(endpoint, project)
    table = predlog.read(folder, *windows.bounds(window))
    if "inputs" in table.column_names:
        table = table.filter(pc.equal(table["status"], 200))
    if version is not None and table.num_rows:
        table = table.filter(pc.equal(table["version"].cast("string"), str(version)))
    if isinstance(window, int):
        table = table.slice(max(0, table.num_rows - window))
    if table.num_rows == 0 or "inputs" not in table.column_names:
        raise _none_answered(endpoint, version)
    return table


def _none_answered(endpoint: str, version: str | None) -> MlopsError:
    served = f" by version {version}" if version is not None else ""
    return MlopsError(f"endpoint {endpoint} has no answered requests{served} in that window yet")


def log_folder(endpoint: str, project: PathLike | None = None) -> Path:
    """Where ``endpoint`` logs its requests."""
    from ..serving import endpoints

    return Path(endpoints.record_of(endpoints.get(endpoint, project))["log_dir"])


def served_columns(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "1d",
    project: PathLike | None = None,
    version: str | None = None,
    in_memory_bytes: int | None = None,
) -> tuple[Any, Any]:
    """The inputs an endpoint answered in ``window`` and its predictions (None when they are
    not one value per row): in memory (a DataFrame), or when the window's log is larger than
    ``in_memory_bytes``, a :class:`served.ServedColumns` that reads a column at a time."""
    from ..serving import predlog
    from . import served

    folder = log_folder(endpoint, project)
    since, until = windows.bounds(window)
    limit = served.IN_MEMORY_BYTES if in_memory_bytes is None else in_memory_bytes
    size = sum(_size(path) for path in predlog.window_files(folder, since))
    if size <= limit:
        table = answered(endpoint, window, project, version)
        return inputs_of(table), outputs_of(table)
    last = window if isinstance(window, int) else None
    columns = served.ServedColumns.scan(folder, since, until, version, last)
    if columns is None:
        raise _none_answered(endpoint, version)
    return columns, columns.outputs()


def newest_part(
    endpoint: str,
    window: str | int | tuple[float, float] | None,
    project: PathLike | None = None,
) -> str | int | tuple[float, float] | None:
    """``window``, or when its log is larger than memory allows (``served.IN_MEMORY_BYTES``),
    its newest part that fits: for what needs every column of every row at once (the
    performance estimate), on windows far larger than memory."""
    from ..serving import predlog
    from . import served

    if isinstance(window, int):
        return window  # a number of requests: bounded already
    since, until = windows.bounds(window)
    files = predlog.window_files(log_folder(endpoint, project), since)
    if sum(_size(path) for path in files) <= served.IN_MEMORY_BYTES:
        return window
    start = predlog.start_of_newest(files, lambda records, size: size >= served.IN_MEMORY_BYTES)
    if start is None:
        return window
    end = until if until is not None else float("inf")
    return (max(start, since) if since is not None else start, end)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def served_inputs(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "1d",
    project: PathLike | None = None,
    version: str | None = None,
) -> Any:
    """The inputs an endpoint answered (one row per predicted row) in ``window``."""
    return inputs_of(answered(endpoint, window, project, version))


def inputs_of(table: Any) -> Any:
    """The inputs of a log's requests as a DataFrame, one row per row served (a column a
    request did not send is missing in its rows)."""
    import pyarrow as pa

    inputs = table["inputs"].combine_chunks()
    fields = [inputs.field(i) for i in range(inputs.type.num_fields)]
    counts = row_counts(fields)
    columns = {f.name: flatten(field, counts) for f, field in zip(inputs.type, fields, strict=True)}
    return pa.table(columns).to_pandas()


def row_counts(fields: list[Any]) -> Any:
    """How many rows each request held: its longest input column (numpy)."""
    import numpy as np
    import pyarrow.compute as pc

    lengths = [pc.fill_null(pc.list_value_length(f), 0).to_numpy() for f in fields]
    return np.max(lengths, axis=0) if lengths else np.zeros(0, dtype=np.int64)


def flatten(lists: Any, counts: Any) -> Any:
    """A list column's values, one per row served: a request that sent fewer values (or
    none: a column it left out) has nulls for the rest, so every column lines up."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.list_flatten(lists)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
    if np.array_equal(lengths, counts):
        return values
    requests = np.repeat(np.arange(len(counts)), counts)
    firsts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    position = np.arange(len(requests)) - firsts[requests]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    there = position < lengths[requests]
    index = pa.array(np.where(there, starts[requests] + position, 0), mask=~there)
    return values.take(index)


def outputs_of(table: Any) -> Any:
    """One prediction per row served (None when outputs are not one value per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "outputs" not in table.column_names:
        return None
    outputs = table["outputs"].combine_chunks()
    if not pa.types.is_list(outputs.type) or pa.types.is_nested(outputs.type.value_type):
        return None
    return pc.list_flatten(outputs).to_pandas()


def reference_of(endpoint: str, project: PathLike | None = None) -> tuple[Any, str]:
    """The data the served model's run trained on (its lineage), and its name."""
    from .. import tracking
    from ..datasets import api as datasets_api
    from ..serving import endpoints
    from ..tracking import lineage

    record = endpoints.record_of(endpoints.get(endpoint, project))
    if not record.get("run_id"):
        raise MlopsError(f"endpoint {endpoint}'s model has no run; pass a reference dataset")
    run = tracking.get_run(record["run_id"], project=project)
    read = lineage.read_by_run(run.data.tags)
    if not read:
        raise MlopsError(
            f"the run behind {endpoint} ({run.info.run_name}) recorded no dataset; pass a "
            "reference (NAME@vN or a DataFrame)"
        )
    version = lineage.version_of(read[0])
    return datasets_api.load_version(version, project), version.ref


def drift(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "1d",
    reference: Any = None,
    thresholds: Thresholds | None = None,
    project: PathLike | None = None,
    outputs: bool = True,
    version: str | None = None,
) -> DriftReport:
    """Drift of an endpoint's served inputs in ``window`` against ``reference``, per column.

    Columns of the reference that the endpoint never saw are left out (and named in the
    report's ``skipped``). With ``outputs``, the served predictions are compared with the
    model's predictions on the reference too (the report's ``output``). ``version``: only
    what that model version answered.
    """
    return compare(endpoint, window, reference, thresholds, project, outputs, version)[0]


def compare(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "1d",
    reference: Any = None,
    thresholds: Thresholds | None = None,
    project: PathLike | None = None,
    outputs: bool = True,
    version: str | None = None,
) -> tuple[DriftReport, Any, Any]:
    """:func:`drift`, with the reference and the served inputs it compared (for charts)."""
    import pandas as pd

    from .. import datasets

    current, served = served_columns(endpoint, window, project, version)
    if reference is None:
        reference, label = reference_of(endpoint, project)
    elif isinstance(reference, str):
        label, reference = reference, datasets.load(reference, project=project)
    else:
        label = "the DataFrame given"
    shared = [c for c in current.columns if c in reference.columns]
    if not shared:
        raise MlopsError(
            f"the reference ({label}) shares no column with what {endpoint} served "
            f"({', '.join(current.columns)})"
        )
    result = report(reference, current, shared, thresholds)
    result.reference = label
    result.skipped = [c for c in reference.columns if c not in set(current.columns)]
    try:  # how the columns move together (two numeric columns and enough rows needed)
        result.multivariate = reconstruction_drift(reference[shared], current[shared])
    except MlopsError:
        result.multivariate = None
    if outputs and served is not None:
        expected = _predictions(endpoint, reference, project)
        if expected is not None:
            if expected.dtype.kind != "f":  # classes: compared as categories, not numbers
                expected, served = expected.astype(str), served.astype(str)
            pair = report(
                pd.DataFrame({"prediction": expected}),
                pd.DataFrame({"prediction": served}),
                thresholds=thresholds,
            )
            result.output = pair.columns[0]
    return result, reference, current


_MODELS: dict[str, Any] = {}
PREDICTED_ROWS = 200_000  # of the reference, sampled, when it is larger


def served_model(endpoint: str, project: PathLike | None) -> Any:
    """The pyfunc the endpoint serves now (loaded once per process)."""
    import mlflow

    from .. import tracking
    from ..serving import endpoints

    record = endpoints.record_of(endpoints.get(endpoint, project))
    tracking.client(project)  # models:/ URIs resolve against the project's store
    key = f"{record.get('tracking_uri')} {record['uri']}"  # models:/m/1 of each project
    model = _MODELS.get(key)
    if model is None:
        # without MLflow's check of the installed packages (1.5 s, the endpoint's own concern)
        model = _MODELS[key] = mlflow.pyfunc.load_model(record["uri"], suppress_warnings=True)
    return model


def _predictions(endpoint: str, reference: Any, project: PathLike | None) -> Any:
    """What the served model predicts for the reference (None: it lacks the model's inputs)."""
    import numpy as np

    model = served_model(endpoint, project)
    schema = model.metadata.get_input_schema()
    columns = schema.input_names() if schema is not None and schema.has_input_names() else None
    if columns and not set(columns) <= set(reference.columns):
        return None
    rows = reference[columns] if columns else reference
    if len(rows) > PREDICTED_ROWS:
        rows = rows.sample(PREDICTED_ROWS, random_state=0)
    return np.asarray(model.predict(rows)).ravel()
