"""Monitoring an endpoint: its served inputs (from the prediction log) against a reference.

The reference is, by default, the dataset version the served model's run trained on (lineage),
or any ``NAME@vN`` or DataFrame given.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from .statistics import DriftReport, Thresholds, report

PathLike = str | os.PathLike[str]
WINDOWS = {"1h": 3600.0, "1d": 86400.0, "7d": 7 * 86400.0}


def served_inputs(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "1d",
    project: PathLike | None = None,
) -> Any:
    """The inputs an endpoint answered (one row per predicted row) in ``window``.

    ``window`` is "1h", "1d", "7d", a number of most recent requests, a (start, end) pair of
    epoch seconds, or None for everything logged.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..serving import endpoints, predlog

    folder = Path(endpoints.record_of(endpoints.get(endpoint, project))["log_dir"])
    since = until = None
    if isinstance(window, str):
        if window not in WINDOWS:
            raise MlopsError(
                f"window {window!r}: use {', '.join(WINDOWS)}, N requests or (start, end)"
            )
        since = time.time() - WINDOWS[window]
    elif isinstance(window, tuple):
        since, until = window
    table = predlog.read(folder, since, until)
    if "inputs" in table.column_names:
        table = table.filter(pc.equal(table["status"], 200))
    if isinstance(window, int):
        table = table.slice(max(0, table.num_rows - window))
    if table.num_rows == 0 or "inputs" not in table.column_names:
        raise MlopsError(f"endpoint {endpoint} has no answered requests in that window yet")
    inputs = table["inputs"].combine_chunks()
    columns = {field.name: pc.list_flatten(inputs.field(i)) for i, field in enumerate(inputs.type)}
    return pa.table(columns).to_pandas()


def reference_of(endpoint: str, project: PathLike | None = None) -> tuple[Any, str]:
    """The data the served model's run trained on (its lineage), and its name."""
    from .. import lineage, tracking
    from ..datasets import api as datasets_api
    from ..serving import endpoints

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
) -> DriftReport:
    """Drift of an endpoint's served inputs in ``window`` against ``reference``, per column.

    Columns of the reference that the endpoint never saw are left out (and named in the
    report's ``skipped``).
    """
    from .. import datasets

    current = served_inputs(endpoint, window, project)
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
    return result
