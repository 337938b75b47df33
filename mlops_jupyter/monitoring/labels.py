"""Labels that arrive later, joined to the logged predictions by request id.

A label joins the prediction answered under the same ``X-Request-Id``; when a client sent one id
more than once, the latest answer is the one labelled. A later label for an id replaces the
earlier one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import MlopsError

PathLike = str | os.PathLike[str]


def _file(endpoint: str, project: PathLike | None) -> Path:
    from ..workspace import Workspace

    ws = Workspace.find(project)
    return ws.state_dir / "monitoring" / endpoint / "labels.parquet"


def add(endpoint: str, data: Any, project: PathLike | None = None) -> int:
    """Store labels (a DataFrame, CSV or Parquet with ``id`` and ``label``); how many matched."""
    import pandas as pd

    from ..serving import endpoints

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
    frame = data[["id", "label"]].astype({"id": str})
    target = _file(endpoint, project)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        frame = pd.concat([pd.read_parquet(target), frame]).drop_duplicates("id", keep="last")
    matched = joined_frame(endpoint, frame, project)
    if not len(matched):
        raise MlopsError(
            f"none of the {len(frame)} label ids match a request {endpoint} answered; "
            "use the X-Request-Id each response carried"
        )
    tmp = target.with_suffix(".tmp")
    frame.to_parquet(tmp)
    tmp.replace(target)
    return len(matched)


def joined_frame(
    endpoint: str, labels: Any, project: PathLike | None, version: str | None = None
) -> Any:
    import pandas as pd

    from ..serving import endpoints, predlog

    record = endpoints.record_of(endpoints.get(endpoint, project))
    log = predlog.read(Path(record["log_dir"]))
    if log.num_rows == 0 or "outputs" not in log.column_names:
        return pd.DataFrame(columns=["id", "label", "prediction", "ts"])
    columns = ["id", "ts", "outputs"] + (["version"] if "version" in log.column_names else [])
    served = log.select(columns).to_pandas()
    if version is not None and "version" in served:
        served = served[served["version"].astype(str) == str(version)]
    return labels.merge(one_row_answers(served), on="id")


def one_row_answers(served: Any) -> Any:
    """``id``, ``prediction``, ``ts`` of the one-row requests among log records (a DataFrame
    with id, ts, outputs). An id answered more than once (a client's retry, a reused id) keeps
    its latest answer: the one a label joins."""
    served = served[served["outputs"].map(lambda o: o is not None and len(o) == 1)]
    served = served.sort_values("ts", kind="stable").drop_duplicates("id", keep="last")
    return served.assign(prediction=served["outputs"].map(lambda o: o[0]))[
        ["id", "prediction", "ts"]
    ]


def stored(endpoint: str, project: PathLike | None = None) -> Any:
    """The labels stored for ``endpoint`` (id, label); None when none arrived yet."""
    import pandas as pd

    target = _file(endpoint, project)
    return pd.read_parquet(target) if target.exists() else None


def joined(endpoint: str, project: PathLike | None = None, version: str | None = None) -> Any:
    """Stored labels joined with the one-row predictions they belong to (None: no labels).

    ``version``: only predictions that model version made.
    """
    labels = stored(endpoint, project)
    return None if labels is None else joined_frame(endpoint, labels, project, version)
