"""The ML Test Score's seven monitors for an endpoint, each pass / warn / fail with its evidence.

1 dependencies, 2 data invariants (and drift), 3 training/serving skew, 4 staleness, 5 numerical
stability, 6 ops (latency, errors, throughput), 7 prediction quality (labels joined by request id;
estimated while they are missing).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError, first_line

PathLike = str | os.PathLike[str]
ORDER = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Check:
    monitor: str
    status: str  # pass, warn or fail
    evidence: str


@dataclass(frozen=True)
class Limits:
    stale_warn_days: float = 30
    stale_fail_days: float = 90
    out_of_range_warn: float = 0.01
    out_of_range_fail: float = 0.05
    error_rate_warn: float = 0.01
    error_rate_fail: float = 0.05
    latency_regression: float = 1.5  # p95 against the window before
    memory_growth: float = 1.5  # resident memory now against its first samples
    quality_drop: float = 0.1  # relative, against the run's own metric
    dataset_drift: float = 0.5  # the share of drifted columns that is dataset drift (warn)


@dataclass
class Scorecard:
    endpoint: str
    checks: list[Check]

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=ORDER.__getitem__, default="pass")

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.checks])

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "status": self.status,
                "checks": [asdict(c) for c in self.checks]}  # fmt: skip

    def __str__(self) -> str:
        width = max(len(c.monitor) for c in self.checks)
        lines = [f"{c.status.upper():<5} {c.monitor:<{width}}  {c.evidence}" for c in self.checks]
        return f"scorecard of {self.endpoint}: {self.status.upper()}\n" + "\n".join(lines)


def _worst(*statuses: str) -> str:
    return max(statuses, key=ORDER.__getitem__)


def dependencies(record: dict[str, Any]) -> Check:
    """The model's pinned requirements against the serving environment's packages."""
    import mlflow

    from ..tracking import environment

    name = "1 dependencies"
    try:
        folder = mlflow.artifacts.download_artifacts(artifact_uri=record["uri"])
    except Exception as exc:  # noqa: BLE001 - the model cannot be read: that is the finding
        return Check(name, "fail", f"the model's files cannot be read: {exc}")
    pins = environment.pins(folder)
    differ = environment.pin_mismatches(pins)
    if differ:
        return Check(name, "fail", "differs from what the model pins: " + "; ".join(differ))
    return Check(
        name, "pass", f"the {len(pins)} packages the model pins match the serving environment"
    )


def invariants(current: Any, profile: dict[str, Any], limits: Limits) -> Check:
    """Ranges, categories, missing values and columns of served inputs against training stats."""
    name = "2 data invariants"
    columns = profile.get("columns", {})
    if not columns:
        return Check(name, "warn", "the training data has no recorded statistics to check against")
    findings, status = [], "pass"
    for column in current.columns:
        stats = columns.get(column)
        if stats is None:
            findings.append(f"{column}: not in the training data")
            status = _worst(status, "warn")
            continue
        values = current[column]
        missing = float(values.isna().mean())
        if missing and not stats.get("nulls"):
            findings.append(f"{column}: {missing:.1%} missing, none in training")
            status = _worst(status, "warn")
        if "min" in stats and "max" in stats and values.dtype.kind in "fiu":
            outside = float(((values < stats["min"]) | (values > stats["max"])).mean())
            if outside > limits.out_of_range_warn:
                level = "fail" if outside > limits.out_of_range_fail else "warn"
                findings.append(
                    f"{column}: {outside:.1%} outside the training range "
                    f"[{stats['min']:.4g}, {stats['max']:.4g}]"
                )
                status = _worst(status, level)
        top = stats.get("top")
        if top and stats.get("distinct") and stats["distinct"] <= len(top):
            known = {str(v) for v, _ in top}
            new = sorted(set(values.dropna().astype(str)) - known)
            if new:
                findings.append(f"{column}: unseen categories {', '.join(new[:5])}")
                status = _worst(status, "warn")
    return Check(
        name,
        status,
        "; ".join(findings) or f"{len(current.columns)} columns within what training saw",
    )


def with_drift(check: Check, report: Any) -> Check:
    """Monitor 2 with the distributions too (the ML Test Score's Data 1): dataset drift is a
    warning, and a failure when the predictions drifted with it."""
    drifted = [c.column for c in report.columns if c.drifted]
    tested = [c for c in report.columns if c.method != "too few rows"]
    if not tested:
        return check
    text = f"{len(drifted)} of {len(tested)} columns drifted against {report.reference}"
    if drifted:
        text += f" ({', '.join(drifted[:5])}{', ...' if len(drifted) > 5 else ''})"
    status = "pass"
    if report.drifted:  # its share is Limits.dataset_drift
        text = "dataset drift: " + text
        status = "warn"
        if report.output is not None and report.output.drifted:
            text += "; the predictions drifted too"
            status = "fail"
    return Check(check.monitor, _worst(check.status, status), f"{check.evidence}; {text}")


def stability(current: Any, outputs: Any) -> Check:
    """NaN or infinite values among the served inputs (a DataFrame, or columns read one at a
    time) and outputs (the log's column, or a list of each request's outputs)."""
    import numpy as np

    bad_inputs = values = 0
    for column in current.columns:  # a column at a time
        if current.dtypes[column].kind in "iufc":  # numbers, as select_dtypes("number")
            numbers = current[column].to_numpy(dtype=float)
            bad_inputs += int(np.count_nonzero(~np.isfinite(numbers)))
            values += numbers.size
    count, bad_outputs = _output_counts(outputs)
    name = "5 numerical stability"
    if bad_outputs:
        return Check(
            name, "fail", f"{bad_outputs} NaN or infinite outputs (and {bad_inputs} inputs)"
        )
    if bad_inputs:
        return Check(name, "warn", f"{bad_inputs} NaN or infinite inputs; outputs all finite")
    return Check(name, "pass", f"{values:,} input values and {count:,} outputs all finite")


def _output_counts(outputs: Any) -> tuple[int, int]:
    """How many output values there are, and how many of them are NaN or infinite floats.

    ``outputs``: the log's column (lists of numbers, or of lists of numbers such as a row's
    class probabilities, are counted in Arrow, without a Python object per value), or a list
    of each request's outputs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if outputs is None:
        return 0, 0
    if isinstance(outputs, pa.ChunkedArray | pa.Array):
        values = outputs
        while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            values = pc.list_flatten(values)
        if pa.types.is_floating(values.type):  # an empty value (null) is not a NaN, as below
            finite = pc.fill_null(pc.is_finite(values), True)
            return len(values), int(pc.sum(pc.invert(finite)).as_py() or 0)
        outputs = [o for o in values.to_pylist() if o is not None]
    flat = list(_leaves(outputs))
    return len(flat), sum(1 for v in flat if isinstance(v, float) and not math.isfinite(v))


def _leaves(values: Any) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _leaves(value)
        else:
            yield value


def staleness(created_ms: int | None, limits: Limits) -> Check:
    name = "4 staleness"
    if created_ms is None:
        return Check(name, "warn", "the served model's age is unknown (served from a run)")
    days = (time.time() - created_ms / 1000) / 86400
    status = (
        "fail"
        if days > limits.stale_fail_days
        else "warn"
        if days > limits.stale_warn_days
        else "pass"
    )
    bounds = f"warn after {limits.stale_warn_days:g}, fail after {limits.stale_fail_days:g}"
    return Check(name, status, f"the served version is {days:.1f} days old ({bounds})")


WARM_UP_S = 60.0  # samples this soon after a start measure loading, not serving


def resources_evidence(samples: Any, limits: Limits) -> tuple[str, str]:
    """CPU, memory, disk and network of the endpoint's processes; warn when memory grew.

    Memory is compared within the latest start of the endpoint, after its warm-up: its first
    quarter of samples is the baseline, its last quarter the present.
    """
    if samples is None or len(samples) < 2:
        return "pass", "no resource samples yet"
    if "start" in samples:
        samples = samples[samples["start"] == samples["start"].max()]
    quarter = max(1, len(samples) // 4)
    last = samples.tail(quarter)
    rates = [
        float(last[column].mean()) / 1024 if column in last else 0.0
        for column in ("read_bytes_s", "written_bytes_s", "sent_bytes_s", "recv_bytes_s")
    ]
    memory = float(last["rss_mb"].mean())
    text = (
        f"CPU {last['cpu_percent'].mean():.1f}%, memory {memory:.0f} MB, "
        f"disk {rates[0] + rates[1]:.1f} kB/s, host network {rates[2] + rates[3]:.1f} kB/s"
    )
    settled = samples[samples["ts"] - samples.get("start", samples["ts"].min()) >= WARM_UP_S]
    if len(settled) >= 8:
        baseline = float(settled.head(max(1, len(settled) // 4))["rss_mb"].median())
        if memory > limits.memory_growth * baseline:
            return "warn", f"{text}; memory grew from {baseline:.0f} MB"
    return "pass", text


def ops(log: Any, window_s: float, limits: Limits, samples: Any = None) -> Check:
    """Latency percentiles, error rate, throughput and resources, against a baseline."""
    import numpy as np

    name = "6 ops"
    used_status, used = resources_evidence(samples, limits)
    if log.num_rows == 0:
        return Check(name, "warn", f"no traffic yet; {used}")
    ts = log["ts"].to_numpy().astype(float)
    latency = log["latency_ms"].to_numpy().astype(float)
    status_codes = log["status"].to_numpy()
    end = ts.max()
    now = ts >= end - window_s
    before = (ts < end - window_s) & (ts >= end - 2 * window_s)
    p50, p95, p99 = np.percentile(latency[now], [50, 95, 99])
    errors = float((status_codes[now] >= 500).mean())
    minutes = np.unique((ts[now] // 60).astype(np.int64), return_counts=True)[1]
    peak = minutes.max() / 60
    status = (
        "fail"
        if errors > limits.error_rate_fail
        else "warn"
        if errors > limits.error_rate_warn
        else "pass"
    )
    text = (
        f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, "
        f"{errors:.1%} server errors, {int(now.sum()):,} requests (peak {peak:.2f} req/s)"
    )
    if before.sum() >= 20:
        base = float(np.percentile(latency[before], 95))
        if base and p95 > limits.latency_regression * base:
            status = _worst(status, "warn")
            text += f"; p95 regressed from {base:.2f} ms"
    return Check(name, _worst(status, used_status), f"{text}; {used}")


def quality(
    joined: Any, run_metrics: dict[str, float], limits: Limits, estimated: Any = None
) -> Check:
    """Accuracy (classes) or RMSE (numbers) on labelled rows, against the run's own metric;
    without labels, the ``estimated`` one (a function giving an Estimation) against the
    limits of the reference."""
    name = "7 prediction quality"
    if joined is None or not len(joined):
        return (
            estimated_quality(estimated)
            if estimated
            else Check(name, "warn", "no labels yet: add them with %monitor labels")
        )
    metric, value = quality_metric(joined["label"], joined["prediction"])
    reference = run_metrics.get(metric)
    if metric == "rmse":
        text = f"RMSE {value:.4g} on {len(joined)} labelled rows"
        worse = reference is not None and value > reference * (1 + limits.quality_drop)
    else:
        text = f"accuracy {value:.3f} on {len(joined)} labelled rows"
        worse = reference is not None and value < reference * (1 - limits.quality_drop)
    if reference is not None:
        text += f" (the run logged {reference:.4g})"
    return Check(name, "fail" if worse else "pass", text)


def estimated_quality(estimated: Any) -> Check:
    """Fail when the estimate leaves the reference's limit in the worse direction (NannyML's
    alert), warn when it is more than halfway there from the reference's own value, else pass."""
    from .estimation import LOWER_IS_BETTER

    name = "7 prediction quality"
    try:
        estimation = estimated()
    except MlopsError as e:
        return Check(name, "warn", f"no labels yet: add them with %monitor labels ({e})")
    except Exception as e:  # noqa: BLE001 - an estimate that breaks must not break the scorecard
        return Check(
            name, "warn", f"no labels yet; no estimate ({type(e).__name__}: {first_line(e)})"
        )
    value, centre = estimation.windows[-1].estimate, estimation.reference
    sign = 1.0 if estimation.metric in LOWER_IS_BETTER else -1.0  # worse is up for errors
    limit = estimation.upper if sign > 0 else estimation.lower
    status = "pass"
    if limit is not None and sign * (value - limit) > 0:
        status = "fail"
    elif limit is not None and sign * (value - (centre + limit) / 2) > 0:
        status = "warn"
    return Check(name, status, f"no labels yet: {estimation.summary()}")


def quality_metric(labels: Any, predictions: Any) -> tuple[str, float]:
    """("rmse", value) for numbers (float labels of more than 20 values), else ("accuracy",
    value)."""
    import numpy as np

    y, p = labels.to_numpy(), predictions.to_numpy()
    if labels.dtype.kind == "f" and len(np.unique(y)) > 20:
        return "rmse", float(np.sqrt(np.mean((y - p.astype(float)) ** 2)))
    return "accuracy", float(np.mean(y == p))


def build(
    endpoint: str,
    limits: Limits | None = None,
    project: PathLike | None = None,
    window: str | int = "1d",
) -> Scorecard:
    """All seven monitors for ``endpoint`` over its last day of traffic (or ``window``).

    Traffic is what the version served now answered: after a promotion, the scorecard is the
    new version's, not a mix with the one it replaced.
    """
    import pyarrow.compute as pc

    from .. import tracking
    from ..datasets import catalog
    from ..serving import endpoints, predlog, resources
    from ..tracking.lineage import read_by_run, version_of
    from ..workspace import Workspace
    from . import api, labels, performance
    from .statistics import Thresholds

    limits = limits or Limits()
    ws = Workspace.find(project)
    record = endpoints.record_of(endpoints.get(endpoint, project))
    client = tracking.client(project)
    checks = [dependencies(record)]
    version = str(record["version"])
    small = ["status", "latency_ms", "version", "outputs"]  # not the inputs: read per column
    log = predlog.read(Path(record["log_dir"]), time.time() - 2 * 86400, columns=small)
    if log.num_rows and "version" in log.column_names:
        log = log.filter(pc.equal(log["version"].cast("string"), version))
    try:  # a window larger than memory is read a column at a time
        current = api.served_columns(endpoint, window, project, version)[0]
    except MlopsError:
        current = None
    run = client.get_run(record["run_id"]) if record.get("run_id") else None
    read = read_by_run(run.data.tags) if run else []
    if current is None:
        checks.append(Check("2 data invariants", "warn", "no traffic yet"))
    elif not read:
        checks.append(
            Check("2 data invariants", "warn", "the model's run recorded no training data")
        )
    else:
        check = invariants(current, catalog.profile_of(ws, version_of(read[0])), limits)
        try:
            report = api.drift(endpoint, window, project=project, version=version,
                               thresholds=Thresholds(share=limits.dataset_drift))  # fmt: skip
        except MlopsError:
            report = None  # too little traffic, or no column shared: the invariants still say
        checks.append(with_drift(check, report) if report is not None else check)
    checks.append(skew(endpoint, record, read, project))
    created = None
    if record["version"] != "run":
        created = client.get_model_version(record["model"], record["version"]).creation_timestamp
    checks.append(staleness(created, limits))
    outputs = log["outputs"] if "outputs" in log.column_names else None
    checks.append(stability(current, outputs) if current is not None
                  else Check("5 numerical stability", "warn", "no traffic yet"))  # fmt: skip
    samples = resources.read(Path(record["log_dir"]), time.time() - 86400)
    checks.append(ops(log, 86400.0, limits, samples))

    def estimated() -> Any:
        found = performance.estimate(endpoint, window, project=project, version=version)
        return found.get("accuracy") or found["rmse"]

    checks.append(
        quality(
            labels.joined(endpoint, project, version),
            run.data.metrics if run else {},
            limits,
            estimated,
        )
    )
    return Scorecard(endpoint, checks)


# Skew checks by endpoint process and model: a running endpoint and its model do not change
# between two scorecards, and each check loads the model and sends probes. Kept here and in
# the endpoint's folder, for the next process (a `monitor check`, a dashboard's kernel).
_SKEW: dict[tuple, Check] = {}


def skew(endpoint: str, record: dict[str, Any], read: list[dict[str, Any]], project: Any) -> Check:
    """Training rows sent through the endpoint get the predictions the model gives them offline
    (checked once per endpoint process and model)."""
    import json

    key = (str(project), endpoint, record.get("pid"), record.get("started"), record.get("uri"))
    if key in _SKEW:
        return _SKEW[key]
    kept = Path(record["metrics_dir"]).parent / "skew.json" if record.get("metrics_dir") else None
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        found = json.loads(kept.read_text()) if kept else None
        if found and found["key"] == json.loads(json.dumps(key)):
            _SKEW[key] = Check(**found["check"])
            return _SKEW[key]
    check = _SKEW[key] = _skew(endpoint, record, read, project)
    if kept is not None:
        with contextlib.suppress(OSError):  # only a cache: the next process checks again
            tmp = kept.with_name(f".skew.{os.getpid()}.json")
            tmp.write_text(json.dumps({"key": key, "check": asdict(check)}))
            os.replace(tmp, kept)
    return check


def _skew(endpoint: str, record: dict[str, Any], read: list[dict[str, Any]], project: Any) -> Check:
    import numpy as np

    from ..datasets import api as datasets_api
    from ..serving import api as serving_api
    from ..tracking.lineage import version_of

    name = "3 training/serving skew"
    if not read:
        return Check(name, "warn", "the model's run recorded no training data to replay")
    from .api import served_model

    model = served_model(endpoint, project)  # loaded once per process, for drift too
    schema = model.metadata.get_input_schema()
    columns = schema.input_names() if schema is not None and schema.has_input_names() else None
    # the first version the run read that holds the model's inputs (a run may have loaded
    # other data first: a lookup table, the labels of another model)
    reference = None
    for entry in read:
        frame = datasets_api.load_version(version_of(entry), project)
        if not columns or (hasattr(frame, "columns") and set(columns) <= set(frame.columns)):
            reference = frame
            break
    if reference is None:
        return Check(
            name,
            "warn",
            f"no data version the model's run read holds its inputs ({', '.join(columns or [])}) "
            "to replay",
        )
    sample = reference[columns].head(50) if columns else reference.head(50)
    offline = np.asarray(model.predict(sample)).ravel().tolist()
    served = serving_api.predict(endpoint, sample, project, probe=True)  # not traffic
    same = sum(1 for a, b in zip(offline, served, strict=True) if _equal(a, b))
    if same == len(offline):
        return Check(
            name, "pass", f"{len(offline)} training rows: served predictions equal offline ones"
        )
    return Check(
        name,
        "fail",
        f"{len(offline) - same} of {len(offline)} training rows predicted differently when served",
    )


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return bool(a == b)


def print_check(card: Scorecard, as_json: bool) -> int:
    import json

    print(json.dumps(card.as_dict(), indent=1) if as_json else card, file=sys.stdout)
    return 1 if card.status == "fail" else 0
