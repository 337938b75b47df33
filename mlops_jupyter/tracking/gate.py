"""A gate before promotion: a candidate model against the current one on the same held-out data.

Both model versions predict one dataset version (its target column held out); each metric is
checked as MLflow's ``MetricThreshold`` states it: an absolute ``threshold``, and a
``min_absolute_change`` or ``min_relative_change`` over the baseline, in the metric's direction.
The verdict is logged on the candidate's run (tag ``mlops.gate``, metrics ``gate.<metric>``).

Thresholds are given as MLflow's ``MetricThreshold`` objects, or as text (the ``--gate`` of
``%track promote``): ``rmse<=2.5`` (a threshold), ``rmse+5%`` (at least 5% better than the
baseline), ``accuracy+0.01`` (at least 0.01 better), or ``rmse`` alone (not worse than it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import MlopsError

# name -> (greater is better, is it a classification metric); MLflow's evaluate() names too
METRICS = {
    "rmse": (False, False),
    "root_mean_squared_error": (False, False),
    "mae": (False, False),
    "mean_absolute_error": (False, False),
    "r2": (True, False),
    "r2_score": (True, False),
    "accuracy": (True, True),
    "accuracy_score": (True, True),
    "f1": (True, True),
    "f1_score": (True, True),
}
_TEXT = re.compile(
    r"^(?P<metric>[a-z0-9_]+)\s*(?:(?P<cmp><=|>=)\s*(?P<threshold>[-+0-9.e]+)"
    r"|\+\s*(?P<change>[0-9.e]+)(?P<percent>%)?)?$"
)


@dataclass(frozen=True)
class Threshold:
    """One metric's conditions (the attributes of MLflow's ``MetricThreshold``)."""

    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool = True
    not_worse: bool = False  # ``rmse`` alone: at least as good as the baseline


@dataclass
class GateResult:
    """Each metric of candidate and baseline on ``data``, and what failed (empty: passed)."""

    candidate: str
    baseline: str | None
    data: str
    candidate_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        against = f" against {self.baseline}" if self.baseline else ""
        if self.passed:
            figures = ", ".join(
                f"{m} {v:.4g}" + (f" (was {self.baseline_metrics[m]:.4g})" if m in
                                  self.baseline_metrics else "")
                for m, v in self.candidate_metrics.items()
            )  # fmt: skip
            return f"gate passed: {self.candidate}{against} on {self.data}: {figures}"
        return f"gate failed: {self.candidate}{against} on {self.data}: " + "; ".join(self.failures)


def parse(spec: str) -> tuple[str, Threshold]:
    """``rmse<=2.5``, ``rmse+5%``, ``accuracy+0.01`` or ``rmse`` as (metric, Threshold)."""
    found = _TEXT.match(spec.strip().lower())
    if not found or found["metric"] not in METRICS:
        raise MlopsError(_usage(spec))
    metric = found["metric"]
    greater = METRICS[metric][0]
    try:
        if found["cmp"]:
            if (found["cmp"] == ">=") != greater:
                better = "higher" if greater else "lower"
                raise MlopsError(f"gate {spec!r}: {better} {metric} is better; use the other sign")
            return metric, Threshold(threshold=float(found["threshold"]), greater_is_better=greater)
        if found["change"]:
            change = float(found["change"])
            if found["percent"]:
                return metric, Threshold(
                    min_relative_change=change / 100, greater_is_better=greater
                )
            return metric, Threshold(min_absolute_change=change, greater_is_better=greater)
    except ValueError:  # "rmse<=1e.": not a number
        raise MlopsError(_usage(spec)) from None
    return metric, Threshold(greater_is_better=greater, not_worse=True)


def _usage(spec: str) -> str:
    known = ", ".join(sorted({m for m in METRICS if "_" not in m}))
    return (
        f"gate {spec!r}: write METRIC<=VALUE, METRIC>=VALUE, METRIC+CHANGE, METRIC+PERCENT% "
        f"or METRIC alone (not worse than the champion), with METRIC one of {known}"
    )


def thresholds_of(given: Any) -> dict[str, Any]:
    """A dict of metric -> threshold from text specs, or MLflow ``MetricThreshold`` objects."""
    if isinstance(given, str):
        given = [given]
    if isinstance(given, dict):
        for metric in given:
            if metric not in METRICS:
                raise MlopsError(f"gate metric {metric!r}: use one of {', '.join(METRICS)}")
        return dict(given)
    return dict(parse(spec) for spec in given)


def metrics(pyfunc: Any, frame: Any, target: str, names: list[str]) -> dict[str, float]:
    """``pyfunc``'s metrics on ``frame`` (its ``target`` held out) for each of ``names``."""
    import numpy as np
    from sklearn import metrics as sk

    truth = frame[target]
    features = frame.drop(columns=[target])
    schema = pyfunc.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        wanted = list(schema.input_names())
        missing = [c for c in wanted if c not in features]
        if missing:
            raise MlopsError(f"the gate's data lacks the model's inputs {', '.join(missing)}")
        features = features[wanted]
    predicted = np.asarray(pyfunc.predict(features))
    if predicted.ndim > 1:
        raise MlopsError("the gate needs one prediction per row; this model answers several")
    values = {}
    for name in names:
        classes = METRICS[name][1]
        if classes and predicted.dtype.kind == "f" and len(np.unique(predicted)) > 20:
            raise MlopsError(f"gate metric {name}: the model predicts numbers, not classes")
        if name in ("rmse", "root_mean_squared_error"):
            values[name] = float(math.sqrt(sk.mean_squared_error(truth, predicted)))
        elif name in ("mae", "mean_absolute_error"):
            values[name] = float(sk.mean_absolute_error(truth, predicted))
        elif name in ("r2", "r2_score"):
            values[name] = float(sk.r2_score(truth, predicted))
        elif name in ("accuracy", "accuracy_score"):
            values[name] = float(sk.accuracy_score(truth, predicted))
        else:  # f1: macro over the classes, so that it means the same for two classes or ten
            values[name] = float(sk.f1_score(truth, predicted, average="macro"))
    return values


def check(metric: str, rule: Any, candidate: float, baseline: float | None) -> str | None:
    """Why ``candidate`` fails ``rule`` (None: it passes), with the figures."""
    greater = bool(rule.greater_is_better)
    better = (lambda a, b: a >= b) if greater else (lambda a, b: a <= b)
    sign = ">=" if greater else "<="
    if rule.threshold is not None and not better(candidate, rule.threshold):
        return f"{metric} {candidate:.4g}, needs {sign} {rule.threshold:.4g}"
    if baseline is None:  # nothing holds the alias yet: only thresholds apply
        return None
    step = 1 if greater else -1
    # A change of 0 is a rule too (not worse than the baseline): ``is not None``, not truth.
    if rule.min_absolute_change is not None:
        needed = baseline + step * rule.min_absolute_change
        if not better(candidate, needed):
            return (
                f"{metric} {candidate:.4g} against {baseline:.4g}, needs {sign} {needed:.4g} "
                f"(a change of {rule.min_absolute_change:g})"
            )
    if rule.min_relative_change is not None:
        needed = baseline + step * rule.min_relative_change * abs(baseline)
        if baseline == 0 and rule.min_relative_change > 0:  # any share of 0 is 0: strictly better
            needed = step * 1e-10
        if not better(candidate, needed):
            return (
                f"{metric} {candidate:.4g} against {baseline:.4g}, needs {sign} {needed:.4g} "
                f"({rule.min_relative_change:.0%} better)"
            )
    if getattr(rule, "not_worse", False) and not better(candidate, baseline):
        return f"{metric} {candidate:.4g} is worse than {baseline:.4g}"
    return None


def validate(
    client: Any,
    candidate: str,
    baseline: str | None,
    thresholds: Any,
    data: Any,
    target: str | None = None,
    data_name: str = "the data given",
) -> GateResult:
    """Check model version ``candidate`` (and ``baseline``, when given) on ``data`` (a DataFrame
    with the ``target`` column) against ``thresholds``; logged on the candidate's run."""
    import mlflow

    from . import names

    rules = thresholds_of(thresholds)
    if not rules:
        raise MlopsError("give the gate at least one metric, as in --gate rmse")
    found = names.model_version(client, candidate)
    other = names.model_version(client, baseline) if baseline else None
    target = _target(data, target, found)
    scores = {}
    for version in (found, other):
        if version is not None:
            uri = f"models:/{version.name}/{version.version}"
            model = mlflow.pyfunc.load_model(uri, suppress_warnings=True)
            scores[version.version] = metrics(model, data, target, list(rules))
    ours = scores[found.version]
    theirs = scores[other.version] if other is not None else {}
    result = GateResult(
        f"{found.name}/{found.version}",
        f"{other.name}/{other.version}" if other is not None else None,
        data_name,
        ours,
        theirs,
    )
    for metric, rule in rules.items():
        failure = check(metric, rule, ours[metric], theirs.get(metric))
        if failure:
            result.failures.append(failure)
    if found.run_id:
        client.set_tag(found.run_id, "mlops.gate", str(result)[:4000])
        for metric, value in ours.items():
            client.log_metric(found.run_id, f"gate.{metric}", value)
    return result


def _target(data: Any, target: str | None, version: Any) -> str:
    """The held-out column: ``target``, or the one column of ``data`` the model does not take."""
    import mlflow

    if target is not None:
        if target not in data.columns:
            raise MlopsError(
                f"no column {target!r} in the gate's data; it has {', '.join(map(str, data))}"
            )
        return target
    schema = mlflow.models.get_model_info(f"models:/{version.name}/{version.version}").signature
    inputs = set(schema.inputs.input_names()) if schema is not None else set()
    left = [c for c in data.columns if c not in inputs]
    if len(left) != 1:
        raise MlopsError(
            "name the column the gate holds out as the truth: --target COLUMN "
            f"(the data has {', '.join(map(str, left)) or 'no column'} beside the model's inputs)"
        )
    return str(left[0])
