"""Labels that arrive later, joined to the logged predictions row by row.

Every row an endpoint answered has an id: the request's ``X-Request-Id`` and the row's position,
``REQUEST_ID#N`` (from 0), or the value of the endpoint's id column (``%serve start ...
--id-column loan_id``). A one-row request's row also answers to the bare request id. When an id
was answered more than once (a retry, a reused id), the latest answer is the one labelled; a
later label for an id replaces the earlier one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError

PathLike = str | os.PathLike[str]
HOW_IDS_WORK = (
    "a row's id is the X-Request-Id its response carried, with #N for row N of a "
    "several-row request (req-7#3), or its value in the endpoint's --id-column"
)


@dataclass(frozen=True)
class Added:
    """What a batch of labels joined: ``matched`` rows, ids that match no answered row, and
    ids given more than once (the last label of each is kept)."""

    endpoint: str
    labels: int
    matched: int
    unmatched: int
    duplicates: int

    def __str__(self) -> str:
        return (
            f"{self.matched:,} of {self.labels:,} labels matched a row {self.endpoint} answered"
            f"; {self.unmatched:,} unmatched, {self.duplicates:,} duplicate ids"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the line
        printer.text(str(self))


def _file(endpoint: str, project: PathLike | None) -> Path:
    from ..workspace import Workspace

    ws = Workspace.find(project)
    return ws.state_dir / "monitoring" / endpoint / "labels.parquet"


def add(endpoint: str, data: Any, project: PathLike | None = None) -> Added:
    """Store labels (a DataFrame, CSV or Parquet with ``id`` and ``label``) for the rows
    ``endpoint`` answered; what they matched. Nothing is stored when none match, or when the
    labels are not of the kind the model answers (text for numbers, say)."""
    import pandas as pd

    from ..serving import endpoints
    from ..serving.protocols import id_text

    endpoints.get(endpoint, project)  # a clear error for an unknown endpoint
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.exists():
            raise MlopsError(
                f"no file {path}; give a CSV or Parquet file with id and label columns"
            )
        data = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = {"id", "label"} - set(data.columns)
    if missing:
        raise MlopsError(f"labels need columns id and label; missing {', '.join(sorted(missing))}")
    given = data[["id", "label"]].assign(id=data["id"].map(id_text))  # as the endpoint has it
    duplicates = int(given["id"].duplicated().sum())
    given = given.drop_duplicates("id", keep="last")
    matched = joined_frame(endpoint, given, project)
    if not len(matched):
        raise MlopsError(
            f"none of the {len(given):,} label ids match a row {endpoint} answered; " + HOW_IDS_WORK
        )
    _check_kind(endpoint, matched)
    target = _file(endpoint, project)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame = given
    if target.exists():
        frame = pd.concat([pd.read_parquet(target), given]).drop_duplicates("id", keep="last")
    tmp = target.with_suffix(".tmp")
    frame.to_parquet(tmp)
    tmp.replace(target)
    return Added(endpoint, len(data), len(matched), len(given) - len(matched), duplicates)


def _check_kind(endpoint: str, matched: Any) -> None:
    """Labels and predictions must both be numbers (booleans count), or both not."""
    import numpy as np

    def numeric(values: Any) -> bool:
        kinds = {type(v) for v in values}
        return all(issubclass(k, (bool, int, float, np.number, np.bool_)) for k in kinds)

    labels, predictions = matched["label"].head(1000), matched["prediction"].head(1000)
    if numeric(labels) != numeric(predictions):
        label_kind = "numbers" if numeric(labels) else "text"
        answer_kind = "numbers" if numeric(predictions) else "text (or several values a row)"
        example = predictions.iloc[0]
        example = example.item() if isinstance(example, np.generic) else example
        raise MlopsError(
            f"the labels are {label_kind} but {endpoint} answers {answer_kind} "
            f"(e.g. {example!r}); give labels of the kind the model predicts"
        )


def joined_frame(
    endpoint: str, labels: Any, project: PathLike | None, version: str | None = None
) -> Any:
    """``labels`` (id, label) joined with the rows answered under those ids: id, label,
    prediction, ts. ``version``: only rows that model version answered."""
    import pandas as pd

    from ..serving import endpoints, predlog

    record = endpoints.record_of(endpoints.get(endpoint, project))
    answers = ["outputs", "row_ids", "version"]  # not the inputs (Parquet files read these alone)
    log = predlog.read(Path(record["log_dir"]), columns=answers)
    if log.num_rows == 0 or "outputs" not in log.column_names:
        return pd.DataFrame(columns=["id", "label", "prediction", "ts"])
    if version is not None and "version" in log.column_names:
        import pyarrow.compute as pc

        log = log.filter(pc.equal(log["version"].cast("string"), str(version)))
    return labels.merge(row_answers(log), on="id")


def row_answers(log: Any) -> Any:
    """One row per row answered (``id``, ``prediction``, ``ts``) of a prediction log (a pyarrow
    Table with id, ts, outputs and perhaps row_ids, or a DataFrame of those), ids as the module
    says. An id answered more than once keeps its latest answer."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    table = isinstance(log, pa.Table)
    names = log.column_names if table else list(log.columns)
    wanted = [c for c in ("id", "ts", "outputs", "row_ids") if c in names]
    log = log.select(wanted) if table else pa.Table.from_pandas(log[wanted], preserve_index=False)
    log = log.filter(pc.is_valid(log["outputs"]))
    outputs = log["outputs"].combine_chunks()
    if not len(outputs) or not pa.types.is_list(outputs.type):
        return pd.DataFrame({"id": [], "prediction": [], "ts": []})
    keys = row_keys(log)
    lengths = pc.list_value_length(outputs).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(outputs).to_numpy()
    starts = np.cumsum(lengths) - lengths
    request_ids = log["id"].cast(pa.string())
    values = pc.list_flatten(outputs).to_pandas()
    ts = log["ts"].to_numpy()
    frame = pd.DataFrame({"id": keys, "prediction": values, "ts": ts[parents]})
    single = lengths == 1  # a one-row request's row also answers to the bare request id
    if single.any():
        alone = pd.DataFrame(
            {
                "id": request_ids.to_numpy(zero_copy_only=False)[single],
                "prediction": values.iloc[starts[single]].to_numpy(),
                "ts": ts[single],
            }
        )
        frame = pd.concat([frame, alone], ignore_index=True)
    frame = frame.sort_values("ts", kind="stable").drop_duplicates("id", keep="last")
    return frame.reset_index(drop=True)


def row_keys(log: Any) -> Any:
    """The id of each row a log's requests answered, in order (a numpy array of text): the
    endpoint's id column where it had one, else ``REQUEST_ID#N``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    outputs = log["outputs"].combine_chunks()
    lengths = pc.list_value_length(outputs).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(outputs).to_numpy()
    position = np.arange(len(parents)) - (np.cumsum(lengths) - lengths)[parents]
    keys = pc.binary_join_element_wise(  # REQUEST_ID#N
        pc.take(log["id"].cast(pa.string()), pa.array(parents)),
        pa.array(position).cast(pa.string()),
        "#",
    ).to_numpy(zero_copy_only=False)
    if "row_ids" in log.column_names:  # the endpoint's id column, where it had one
        own = log["row_ids"].combine_chunks()
        fits = pc.fill_null(pc.list_value_length(own), -1).to_numpy() == lengths
        if fits.any():
            keys[fits[parents]] = pc.list_flatten(own.filter(pa.array(fits))).to_numpy(
                zero_copy_only=False
            )
    return keys


def per_row(log: Any, labels: Any) -> Any:
    """The label of each row a log's requests answered, in order (None where none arrived):
    ``labels`` is a DataFrame of id and label, ids as the module says."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    known = dict(zip(labels["id"].astype(str), labels["label"], strict=True))
    outputs = log["outputs"].combine_chunks()
    parents = pc.list_parent_indices(outputs).to_numpy()
    single = (pc.list_value_length(outputs).to_numpy(zero_copy_only=False) == 1)[parents]
    bare = log["id"].cast(pa.string()).to_numpy(zero_copy_only=False)[parents]
    return np.array(
        [known.get(key, known.get(alone) if one else None)
         for key, alone, one in zip(row_keys(log), bare, single, strict=True)],
        dtype=object,
    )  # fmt: skip


def stored(endpoint: str, project: PathLike | None = None) -> Any:
    """The labels stored for ``endpoint`` (id, label); None when none arrived yet."""
    import pandas as pd

    target = _file(endpoint, project)
    return pd.read_parquet(target) if target.exists() else None


def joined(endpoint: str, project: PathLike | None = None, version: str | None = None) -> Any:
    """Stored labels joined with the rows they belong to (None: no labels).

    ``version``: only predictions that model version made.
    """
    labels = stored(endpoint, project)
    return None if labels is None else joined_frame(endpoint, labels, project, version)
