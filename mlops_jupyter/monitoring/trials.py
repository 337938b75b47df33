"""A trial's champion and challenger side by side, on the traffic they answered.

Read from the endpoint's prediction log: each record names the variant that answered it (a
shadow challenger's records are its own, under the same request ids). Per variant: requests,
errors, latency, the distribution of its outputs (and how far the challenger's is from the
champion's), and its quality on the labels that arrived.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from . import labels, windows
from .monitors import quality_metric

PathLike = str | os.PathLike[str]
VARIANTS = ("champion", "challenger")


def compare(endpoint: str, window: str | int | None = "1d", project: PathLike | None = None) -> Any:
    """One row per variant of the endpoint's trial in ``window`` ("1h", "1d", "7d", the last N
    requests, or None for all): version, requests, errors, p50/p95 latency, output mean and
    spread, the output drift of the challenger against the champion, labels and quality."""
    import pandas as pd

    from ..serving import endpoints, predlog

    record = endpoints.record_of(endpoints.get(endpoint, project))
    since, until = windows.bounds(window)
    answers = ["variant", "version", "status", "latency_ms", "outputs", "row_ids"]  # no inputs
    log = predlog.read(Path(record["log_dir"]), since, until, shadows=True, columns=answers)
    log = log.to_pandas()
    if "variant" not in log or not log["variant"].isin(VARIANTS).any():
        raise MlopsError(
            f"endpoint {endpoint} answered no request in a trial in that window; start one: "
            f"%serve trial {endpoint} MODEL@challenger --split 10 (or --shadow)"
        )
    log = log[log["variant"].isin(VARIANTS)]
    if isinstance(window, int):
        log = log.groupby("variant", group_keys=False).tail(window)
    stored = labels.stored(endpoint, project)
    by_id = stored.set_index("id")["label"] if stored is not None else None
    outputs = {v: _values(log[log["variant"] == v]) for v in VARIANTS}
    rows = []
    for variant in VARIANTS:
        part = log[log["variant"] == variant]
        if not len(part):
            continue
        row: dict[str, Any] = {
            "variant": variant + (" (shadow)" if _is_shadow(part) else ""),
            "version": str(part["version"].iloc[-1]),
            "requests": len(part),
            "errors": int((part["status"] >= 400).sum()),
            "p50_ms": float(part["latency_ms"].quantile(0.5)),
            "p95_ms": float(part["latency_ms"].quantile(0.95)),
        }
        row.update(_distribution(outputs[variant]))
        row.update(_quality(_by_row_id(part), by_id))
        rows.append(row)
    frame = pd.DataFrame(rows)
    drift = _output_drift(outputs["champion"], outputs["challenger"])
    frame["output_drift"] = [None, drift] if len(frame) == 2 else None
    return frame


def _is_shadow(part: Any) -> bool:
    return "shadow" in part and bool(part["shadow"].fillna(False).astype(bool).any())


def _answered(part: Any) -> Any:
    return part[(part["status"] == 200) & part["outputs"].notna()]


def _values(part: Any) -> Any:
    """Every row's answer (one value per row; rows answered with several are left out)."""
    import numpy as np
    import pandas as pd

    scalar = (str, int, float, np.generic)
    values = [v for o in _answered(part)["outputs"] for v in o if isinstance(v, scalar)]
    return pd.Series(values, dtype=object)


def _by_row_id(part: Any) -> Any:
    """Every row's answer by its id (see :mod:`.labels`; the latest answer per id)."""
    return labels.row_answers(_answered(part)).set_index("id")["prediction"]


def _numeric(values: Any) -> bool:
    import numpy as np

    number = (int, float, np.integer, np.floating)
    return len(values) > 0 and bool(values.map(lambda v: isinstance(v, number)).all())


def _distribution(values: Any) -> dict[str, Any]:
    """Mean and spread of numbers; the most frequent answer and its share for classes."""
    if not len(values):
        return {"output": "no one-value answers"}
    if _numeric(values) and values.nunique() > 20:
        numbers = values.astype(float)
        return {"output": f"mean {numbers.mean():.4g}, std {numbers.std():.4g}"}
    share = values.astype(str).value_counts(normalize=True)
    return {"output": f"{share.index[0]}: {share.iloc[0]:.0%}"}


def _output_drift(champion: Any, challenger: Any) -> str | None:
    """How far the challenger's answers are from the champion's (the drift monitor's test)."""
    import pandas as pd

    from .statistics import report

    if not len(champion) or not len(challenger):
        return None
    if not (_numeric(champion) and _numeric(challenger)):
        champion, challenger = champion.astype(str), challenger.astype(str)
    found = report(
        pd.DataFrame({"prediction": champion.to_numpy()}),
        pd.DataFrame({"prediction": challenger.to_numpy()}),
    ).columns[0]
    verdict = "differ" if found.drifted else "alike"
    return f"{verdict} ({found.method} {found.statistic:.3g})"


def _quality(predictions: Any, by_id: Any) -> dict[str, Any]:
    """Accuracy (classes) or RMSE (numbers) on the requests with a label."""
    shared = predictions.index.intersection(by_id.index) if by_id is not None else []
    if not len(shared):
        return {"labelled": 0, "quality": None}
    metric, value = quality_metric(by_id.loc[shared], predictions.loc[shared])
    shown = f"RMSE {value:.4g}" if metric == "rmse" else f"accuracy {value:.3f}"
    return {"labelled": len(shared), "quality": shown}
