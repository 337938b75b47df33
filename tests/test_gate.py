"""A gate before promotion: the candidate against the champion on held-out data, as a user runs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from mlops_jupyter import datasets, tracking
from mlops_jupyter.errors import MlopsError


def fit(name: str, frame: pd.DataFrame, noise: float, project) -> str:
    """A linear model of y on x1, x2 (fitted on targets with ``noise`` added), registered."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(len(name))
    X = frame[["x1", "x2"]]
    y = frame["y"] + rng.normal(scale=noise, size=len(frame))
    with tracking.run(experiment="houses", name=name, project=project) as run:
        tracking.log_model(LinearRegression().fit(X, y), input_example=X.head(2))
    return run.id


@pytest.fixture
def houses(project, shell):
    """``houses@v1`` (training) and ``houses@v2`` (held out); champion, a worse and a better
    candidate registered as versions 1, 2 and 3 of ``price``."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(600, 2)), columns=["x1", "x2"])
    frame["y"] = 3 * frame.x1 - 2 * frame.x2 + rng.normal(scale=0.1, size=600)
    (project / "houses.csv").write_text(frame.head(400).to_csv(index=False))
    datasets.add(project / "houses.csv", name="houses")
    (project / "houses.csv").write_text(frame.tail(200).to_csv(index=False))
    datasets.add(project / "houses.csv", name="houses", message="held out")
    train = frame.head(400)
    tracking.register(fit("first", train, 1.0, project), "price", alias="champion")
    tracking.register(fit("worse", train.head(20), 8.0, project), "price")
    tracking.register(fit("better", train, 0.0, project), "price")
    return shell


def test_a_failed_gate_refuses_the_promotion_in_one_line_and_says_why(houses):
    shell = houses
    with pytest.raises(UsageError) as refused:
        shell.run("%track promote price/2 champion --gate rmse+5% --data houses@v2")
    line = str(refused.value)
    assert "\n" not in line and "--force" in line
    assert line.startswith("gate failed: price/2 against price/1 on houses@v2: rmse ")
    assert "(5% better)" in line
    assert tracking.get_run("price@champion").info.run_name == "first"  # nothing moved
    verdict = tracking.get_run("price/2")
    assert verdict.data.tags["mlops.gate"].startswith("gate failed")  # logged on the candidate
    assert verdict.data.metrics["gate.rmse"] > 0.5

    moved = shell.run(
        "%track promote price/3 champion --gate rmse+5% --gate r2>=0.99 --data houses@v2"
    )
    assert int(moved.version) == 3
    assert tracking.get_run("price/3").data.tags["mlops.gate"].startswith("gate passed")

    forced = shell.run("%track promote price/2 champion --gate rmse --data houses@v2 --force")
    assert int(forced.version) == 2  # a failed gate, overridden: said, and logged


def test_validate_takes_mlflows_thresholds_and_a_dataframe(houses, project):
    from mlflow.models import MetricThreshold

    held_out = datasets.load("houses@v2")
    result = tracking.validate(
        "price/3",
        "price/1",
        {
            "r2_score": MetricThreshold(
                threshold=0.95, min_absolute_change=0.0001, greater_is_better=True
            )
        },
        held_out,
        target="y",
    )
    assert result.passed, str(result)
    assert result.candidate_metrics["r2_score"] > result.baseline_metrics["r2_score"]
    alone = tracking.validate("price/2", None, ["rmse<=0.01"], held_out)  # target: the one left
    assert (
        not alone.passed
        and alone.failures[0].startswith("rmse ")
        and "needs <= 0.01" in alone.failures[0]
    )


MISTAKES = {
    "--gate rmse": "a gate needs held-out data: --data",
    "--gate rsme --data houses@v2": "gate 'rsme': write METRIC<=VALUE",
    "--gate rmse<=1e. --data houses@v2": "gate 'rmse<=1e.': write METRIC<=VALUE",
    "--gate rmse>=2 --data houses@v2": "lower rmse is better; use the other sign",
    "--gate accuracy --data houses@v2": "the model predicts numbers, not classes",
    "--gate rmse --data houses@v9": "houses@v9 does not exist; houses has versions v1, v2",
    "--gate rmse --data houses@v2 --target price": "no column 'price' in the gate's data",
}


def test_gate_mistakes_are_one_line(houses):
    for gate, message in MISTAKES.items():
        with pytest.raises(UsageError) as refused:
            houses.run(f"%track promote price/3 champion {gate}")
        assert message in str(refused.value) and "\n" not in str(refused.value), gate
    assert tracking.get_run("price@champion").info.run_name == "first"


def test_unknown_metrics_given_as_a_dict_are_named(houses):
    with pytest.raises(MlopsError, match="gate metric 'auc'"):
        tracking.validate("price/3", None, {"auc": object()}, datasets.load("houses@v2"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="rmsaeu2f1<=>+-%.e0123456789 _", max_size=16) | st.text(max_size=16))
def test_any_gate_text_is_a_rule_or_one_line(spec):
    from mlops_jupyter.tracking import gate

    try:
        metric, rule = gate.parse(spec)
    except MlopsError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("gate ")
    else:
        assert metric in gate.METRICS and rule.greater_is_better == gate.METRICS[metric][0]


@settings(max_examples=300, deadline=None)
@given(
    metric=st.sampled_from(["rmse", "mae", "r2", "accuracy", "f1"]),
    change=st.sampled_from(["0", "0.0", "0%", "0.0%", "0.01", "5%", "0.001"]),
    baseline=st.floats(0, 100, allow_nan=False),
    worse_by=st.floats(1e-6, 10, allow_nan=False),
)
def test_a_change_rule_never_passes_a_worse_candidate(metric, change, baseline, worse_by):
    """``rmse+0``, ``rmse+0%``, ``accuracy+0``: at least as good as the baseline, never a pass
    for a candidate that is worse (a change of 0 once read as no rule at all)."""
    from mlops_jupyter.tracking import gate

    name, rule = gate.parse(f"{metric}+{change}")
    worse = baseline - worse_by if rule.greater_is_better else baseline + worse_by
    assert gate.check(name, rule, worse, baseline) is not None
    if float(change.rstrip("%")) == 0:
        assert gate.check(name, rule, baseline, baseline) is None  # equal is not worse


def test_a_promotion_moves_the_alias_only_from_where_the_gate_measured_it(houses):
    verdict = tracking.validate("price/3", "price@champion", ["rmse"], "houses@v2")
    assert verdict.passed and verdict.baseline == "price/1"
    tracking.promote("price/2", "champion")  # a person (or another watcher) promotes meanwhile
    with pytest.raises(MlopsError, match=r"price@champion moved to price/2 since the gate"):
        tracking.promote("price/3", "champion", gated=verdict)
    assert tracking.get_run("price@champion").info.run_name == "worse"  # theirs stands

    again = tracking.validate("price/3", "price@champion", ["rmse"], "houses@v2")
    assert int(tracking.promote("price/3", "champion", gated=again).version) == 3
