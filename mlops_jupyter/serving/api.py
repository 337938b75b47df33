"""Serving as plain functions: ``from mlops_jupyter import serving``.

>>> ep = serving.start("temps-forecast@champion")      # its own process; waits until ready
>>> serving.predict(ep.name, frame)                     # MLflow's scoring protocol over HTTP
>>> serving.status()                                    # every endpoint: version, URL, traffic
>>> serving.trial(ep.name, "temps-forecast@challenger", split=10)   # a challenger on 10%
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

from ..errors import MlopsError
from . import endpoints, predlog
from .endpoints import Endpoint, reload, start, stop, trial

PathLike = str | os.PathLike[str]
__all__ = ["Endpoint", "logs", "metrics", "predict", "reload", "start", "status", "stop", "trial"]


def metrics(endpoint: Endpoint) -> dict[str, float | None]:
    """Requests, errors and latency percentiles read from the endpoint's ``/metrics``."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, body = endpoints.request(endpoint, "/metrics")
    if status != 200:
        return {}
    found: dict[str, float | None] = {"requests": 0.0, "errors": 0.0}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "mlops_requests_total":
                found["requests"] = (found["requests"] or 0.0) + sample.value
            elif sample.name == "mlops_request_errors_total":
                found["errors"] = (found["errors"] or 0.0) + sample.value
            elif sample.name == "mlops_request_latency_seconds_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    total = max(buckets.values(), default=0.0)
    for q in (0.5, 0.95, 0.99):
        upper = next((b for b in sorted(buckets) if total and buckets[b] >= q * total), None)
        finite = upper is not None and upper != float("inf")
        found[f"p{int(q * 100)}_ms"] = upper * 1000 if finite and upper else None
    return found


def status(project: PathLike | None = None) -> Any:
    """Every running endpoint: model, version, URL, uptime, requests, errors, p95 latency, how
    its workers call the model (adaptive batches or one call per request), and its challenger."""
    import pandas as pd

    rows = []
    for ep in endpoints.endpoints(project):
        seen = metrics(ep)
        rows.append(
            {
                "endpoint": ep.name,
                "model": ep.model + (f"@{ep.alias}" if ep.alias else ""),
                "version": ep.version,
                "url": ep.url,
                "uptime_s": round(time.time() - ep.started),
                "requests": int(seen.get("requests") or 0),
                "errors": int(seen.get("errors") or 0),
                "p95_ms": seen.get("p95_ms"),
                "batching": _batching(ep),
                "challenger": ep.challenger or "",
            }
        )
    columns = ["endpoint", "model", "version", "url", "uptime_s", "requests", "errors", "p95_ms",
               "batching", "challenger"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _batching(endpoint: Endpoint) -> str:
    status, _, body = endpoints.request(endpoint, "/version")
    return str(orjson.loads(body).get("batching", "")) if status == 200 else ""


def predict(
    name: str,
    data: Any,
    project: PathLike | None = None,
    request_id: str | None = None,
    probe: bool = False,
) -> list[Any]:
    """Predictions from endpoint ``name`` for a DataFrame, a dict of columns or rows (JSON).

    ``request_id`` is sent as ``X-Request-Id`` (the id that labels are joined by later).
    ``probe``: a check of monitoring's own, left out of the traffic monitors read.
    """
    endpoint = endpoints.get(name, project)
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        payload: Any = {"dataframe_split": data.to_dict(orient="split")}
        payload["dataframe_split"].pop("index", None)
    elif isinstance(data, (str, bytes)):
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MlopsError(f"the data is not valid JSON: {exc}") from None
    elif isinstance(data, dict) and not set(data) & {
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    }:
        payload = {"inputs": data}
    elif isinstance(data, list):
        payload = {"dataframe_records": data}
    else:
        payload = data
    code, _, body = endpoints.request(
        endpoint,
        "/invocations",
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        request_id=request_id,
        probe=probe,
    )
    answer = orjson.loads(body) if body else {}
    if code != 200:
        raise MlopsError(f"endpoint {name} answered {code}: {answer.get('message', body[:200])}")
    return list(answer["predictions"])


def logs(name: str, n: int = 20, project: PathLike | None = None) -> Any:
    """The last ``n`` requests the endpoint logged (time, id, status, latency, inputs, outputs)."""
    folder = Path(endpoints.record_of(endpoints.get(name, project))["log_dir"])
    table = predlog.read(folder, since=predlog.since_last(folder, n))
    frame = table.slice(max(0, table.num_rows - n)).to_pandas()
    if "ts" in frame:
        import pandas as pd

        frame.insert(0, "time", pd.to_datetime(frame.pop("ts"), unit="s"))
    return frame
