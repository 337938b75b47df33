"""Performance estimated before labels arrive: CBPE for a classifier, DLE for a regressor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.monitoring import CBPE, DLE


def scored(rng, rows: int, spread: float = 1.0):
    """Rows of a classifier whose scores are over-confident: its truth is a softer logistic."""
    x = rng.normal(scale=spread, size=rows)
    truth = rng.random(rows) < 1 / (1 + np.exp(-1.5 * x))
    scores = 1 / (1 + np.exp(-4 * x))
    return scores, truth.astype(int)


def test_cbpe_follows_accuracy_into_traffic_the_model_is_unsure_of():
    rng = np.random.default_rng(1)
    scores, labels = scored(rng, 20_000)
    cbpe = CBPE(chunk_size=2_000).fit(scores, np.where(labels == 1, "yes", "no"))
    assert cbpe.calibrator is not None  # over-confident scores get calibrated
    usual, usual_labels = scored(rng, 4_000)
    unsure, unsure_labels = scored(rng, 4_000, spread=0.3)  # near the boundary: a harder month
    found = cbpe.estimate(
        np.r_[usual, unsure], labels=np.r_[usual_labels, unsure_labels].astype(object)
    )
    accuracy = found["accuracy"]
    assert [w.end - w.start for w in accuracy.windows] == [2_000] * 4
    assert [w.alert for w in accuracy.windows] == [False, False, True, True]
    for window in accuracy.windows:  # the estimate is where the labels later put it
        assert abs(window.estimate - window.realized) < 0.04
        assert window.low <= window.estimate <= window.high
    assert accuracy.windows[3].estimate < accuracy.lower < accuracy.reference
    assert {"roc_auc", "f1"} <= set(found) and found["roc_auc"].alerts >= 1
    assert accuracy.summary().startswith("estimated accuracy 0.")
    assert "on 2,000 unlabelled rows; the reference's 0." in accuracy.summary()
    frame = accuracy.frame()
    assert list(frame.columns[:6]) == ["start", "end", "estimate", "low", "high", "alert"]
    from mlops_jupyter.monitoring import charts

    spec = charts.estimated(
        accuracy
    ).to_dict()  # the dashboard's chart: band, line, realized, limits
    assert len(spec["layer"]) == 4 and spec["title"].startswith("accuracy estimated without labels")


def test_cbpe_estimates_a_three_class_model_from_its_predict_proba():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    angles = np.array([0.5, 2.6, 4.7])
    weights = 1.5 * np.c_[np.cos(angles), np.sin(angles)]  # each class's direction
    names = np.array(["cat", "dog", "emu"])

    def rows(n: int, spread: float):
        """Points ``spread`` from the centre, where the classes meet; each point's class
        drawn as the same softmax decides, wherever the traffic goes."""
        X = rng.normal(size=(n, 2)) * spread
        odds = np.exp(X @ weights.T)
        chances = odds / odds.sum(axis=1, keepdims=True)
        kind = (rng.random((n, 1)) > chances.cumsum(axis=1)).sum(axis=1)
        return X, names[kind]

    X, y = rows(6_000, 2.0)
    model = LogisticRegression(C=100).fit(X, y)
    cbpe = CBPE(chunk_size=1_000).fit(model.predict_proba(X), y, classes=model.classes_)
    usual, usual_truth = rows(2_000, 2.0)
    close, close_truth = rows(2_000, 0.4)  # near where the classes meet: a harder month
    later, truth = np.r_[usual, close], np.r_[usual_truth, close_truth].astype(object)
    truth[-500:] = None  # the last labels have not arrived
    found = cbpe.estimate(model.predict_proba(later), model.predict(later), truth)
    assert set(found) == {"roc_auc", "f1", "accuracy"}
    for metric, estimation in found.items():
        assert [w.alert for w in estimation.windows] == [False, False, True, True], metric
        for window in estimation.windows:  # where the labels later put it
            assert abs(window.estimate - window.realized) < 0.04, metric
            assert window.low <= window.estimate <= window.high
    assert found["accuracy"].windows[2].estimate < found["accuracy"].lower
    # predictions left out: the most likely class, the same as the model's
    again = cbpe.estimate(model.predict_proba(later))["accuracy"]
    assert [w.estimate for w in again.windows] == [w.estimate for w in found["accuracy"].windows]
    with pytest.raises(MlopsError, match="give the scores as 3 columns, one per class"):
        cbpe.estimate(model.predict_proba(later)[:, :2])
    with pytest.raises(MlopsError, match="the predictions hold fox, not one of the model's"):
        cbpe.estimate(model.predict_proba(later[:2]), ["cat", "fox"])
    with pytest.raises(MlopsError, match="the scores have 3 columns but there are 2 classes"):
        CBPE().fit(model.predict_proba(X[:4]), ["cat", "dog", "cat", "dog"])
    with pytest.raises(MlopsError, match="the predictions hold missing values; drop those rows"):
        cbpe.estimate(model.predict_proba(later[:2]), ["cat", None])
    with pytest.raises(MlopsError, match="the reference's labels hold missing values; drop"):
        CBPE().fit(model.predict_proba(X[:3]), ["cat", None, "emu"], classes=names)
    with pytest.raises(MlopsError, match="the predictions must be class values, one per row"):
        cbpe.estimate(model.predict_proba(later[:2]), [["cat"], ["dog", "emu"]])
    with pytest.raises(MlopsError, match="estimated for two classes or more"):
        CBPE().fit(np.ones((3, 1)), ["cat"] * 3)


def test_cbpe_reads_each_windows_labels_against_the_references_positive_class():
    rng = np.random.default_rng(5)
    scores, labels = scored(rng, 4_000)
    cbpe = CBPE(chunk_size=100).fit(scores, np.where(labels == 1, "yes", "no"))
    sure_no = np.full(100, 0.01)  # a window the model calls "no" throughout, rightly
    found = cbpe.estimate(sure_no, labels=np.array(["no"] * 100, dtype=object))
    assert found["accuracy"].windows[0].realized == 1.0  # "no" is still the negative class
    with pytest.raises(MlopsError, match="the labels hold maybe, not the reference's no or yes"):
        cbpe.estimate(sure_no[:2], labels=["no", "maybe"])


def test_dle_estimates_rmse_of_a_model_with_a_text_column():
    rng = np.random.default_rng(2)

    def rows(n: int, shift: float):
        x = pd.DataFrame({"size": rng.normal(shift, 1, n), "city": rng.choice(["ams", "rio"], n)})
        noise = np.where(x.city == "rio", 2.0, 0.5) * (0.5 + np.abs(x["size"]))
        prediction = 3 * x["size"].to_numpy()
        return x, prediction, prediction + rng.normal(size=n) * noise

    x, prediction, truth = rows(8_000, 0.0)
    dle = DLE(chunk_size=1_000).fit(x, prediction, truth)
    later, later_prediction, later_truth = rows(2_000, 1.2)  # where the model errs more
    found = dle.estimate(later, later_prediction, np.r_[later_truth[:1_000], [np.nan] * 1_000])
    rmse = found["rmse"]
    assert all(w.alert for w in rmse.windows) and rmse.windows[0].estimate > rmse.upper
    assert abs(rmse.windows[0].estimate - rmse.windows[0].realized) < 0.25 * rmse.reference
    assert rmse.windows[1].realized is None  # its labels have not arrived
    assert found["mae"].windows[0].estimate < rmse.windows[0].estimate
    shuffled = later[["city", "size"]]  # the columns in another order: the same estimate
    assert dle.estimate(shuffled, later_prediction)["rmse"].windows[0].estimate == pytest.approx(
        rmse.windows[0].estimate
    )
    numeric = DLE(chunk_size=1_000).fit(x[["size"]].assign(n=1.0), prediction, truth)
    plain = numeric.estimate(later[["size"]].assign(n=1.0), later_prediction)["rmse"]
    flipped = numeric.estimate(later.assign(n=1.0)[["n", "size"]], later_prediction)["rmse"]
    assert [w.estimate for w in flipped.windows] == [w.estimate for w in plain.windows]
    unseen = later.assign(city="lima")  # a category the reference never had
    assert np.isfinite(dle.estimate(unseen, later_prediction)["rmse"].windows[0].estimate)
    zips = x.assign(zip=rng.integers(0, 400, len(x)).astype(str))  # more values than a split
    wide = DLE(chunk_size=1_000).fit(zips, prediction, truth)  # tells apart: the rarest missing
    found = wide.estimate(later.assign(zip=zips["zip"][:2_000].to_numpy()), later_prediction)
    assert found["rmse"].windows[0].estimate > found["rmse"].upper


def test_dle_keeps_free_trees_when_its_errors_hang_on_three_inputs_together():
    rng = np.random.default_rng(0)

    def rows(n: int, shift: float):
        x = pd.DataFrame(rng.normal(shift, 1, size=(n, 3)), columns=["a", "b", "c"])
        prediction = x["a"].to_numpy()
        return x, prediction, prediction + rng.normal(size=n) * (0.3 + np.abs(x.prod(axis=1)))

    dle = DLE(chunk_size=500).fit(*rows(4_000, 0.0))
    assert dle._tables is None  # trees on pairs erred more on the held-out rows: not used
    later, prediction, truth = rows(1_000, 0.8)
    for window in dle.estimate(later, prediction, truth)["mae"].windows:
        assert window.alert and abs(window.estimate - window.realized) < 0.15 * window.realized


def test_dle_walks_the_trees_when_tables_would_not_fit_in_memory(monkeypatch):
    from mlops_jupyter.monitoring import pairwise

    rng = np.random.default_rng(4)
    x = pd.DataFrame(rng.normal(size=(4_000, 3)), columns=["a", "b", "c"])
    prediction = x["a"].to_numpy() * 2
    truth = prediction + rng.normal(size=4_000) * (0.5 + np.abs(x["b"]))
    tables = DLE(chunk_size=500).fit(x, prediction, truth)
    monkeypatch.setattr(pairwise, "ENTRIES", 100)
    walked = DLE(chunk_size=500).fit(x, prediction, truth)
    assert tables._tables is not None and walked._tables is None
    later = x.assign(b=x["b"] * 2)
    for metric, found in walked.estimate(later, prediction).items():
        expected = tables.estimate(later, prediction)[metric]
        assert [w.estimate for w in found.windows] == pytest.approx(
            [w.estimate for w in expected.windows], abs=1e-9
        )


def test_estimation_mistakes_get_one_line():
    with pytest.raises(MlopsError, match="two classes; the labels hold 3 "):
        CBPE().fit([0.1, 0.5, 0.9], ["a", "b", "c"])
    with pytest.raises(MlopsError, match="fit the estimator on a reference before estimating"):
        CBPE().estimate([0.2])
    fitted = CBPE(chunk_size=10).fit(np.linspace(0, 1, 40), [0, 1] * 20)
    with pytest.raises(MlopsError, match="predictions hold no, yes: give 0 or 1"):
        fitted.estimate([0.2, 0.7], ["no", "yes"])
    with pytest.raises(MlopsError, match="1 predictions for 2 scores"):
        fitted.estimate([0.2, 0.7], [1])
    with pytest.raises(MlopsError, match="CBPE estimates roc_auc, f1, accuracy; not rmse"):
        CBPE(metrics=("rmse",))
    with pytest.raises(MlopsError, match="the predictions must be numbers"):
        DLE().fit(pd.DataFrame({"a": [1, 2]}), ["x", "y"], [1.0, 2.0])
    with pytest.raises(MlopsError, match="the reference has 2 rows, 2 predictions, 1 labels"):
        DLE().fit(pd.DataFrame({"a": [1, 2]}), [1.0, 2.0], [1.0])
    dle = DLE(chunk_size=50).fit(
        pd.DataFrame({"a": np.arange(200.0), "b": ["x", "y"] * 100}),
        np.arange(200.0),
        np.arange(200.0) + 1,
    )
    with pytest.raises(MlopsError, match="lack the column 'b'"):
        dle.estimate(pd.DataFrame({"a": [1.0]}), [1.0])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=40, max_size=200),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_cbpe_estimates_stay_metrics_whatever_the_scores(scores, seed):
    scores = np.array(scores)
    labels = np.random.default_rng(seed).random(len(scores)) < scores
    labels[:2] = [True, False]  # both classes, as a reference needs
    found = CBPE(chunk_size=20).fit(scores, labels).estimate(scores[::-1])
    for estimation in found.values():
        for window in estimation.windows:
            assert np.isnan(window.estimate) or 0 <= window.low <= window.estimate <= 1
            assert np.isnan(window.estimate) or window.estimate <= window.high <= 1


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=3, max_value=5),
    st.integers(min_value=60, max_value=200),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_cbpe_of_many_classes_stays_metrics_whatever_the_scores(classes, rows, seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((rows, classes)) ** rng.uniform(0.2, 5)  # not summing to 1, ties, zeros
    scores[rng.random((rows, classes)) < 0.1] = 0.0
    labels = rng.integers(0, classes, rows)
    labels[:classes] = np.arange(classes)  # each class at least once
    found = CBPE(chunk_size=20).fit(scores, labels).estimate(scores[::-1])
    for estimation in found.values():
        for window in estimation.windows:
            assert np.isnan(window.estimate) or 0 <= window.low <= window.estimate <= 1
            assert np.isnan(window.estimate) or window.estimate <= window.high <= 1


@pytest.mark.parametrize(
    ("metric", "estimate", "status"),
    [("rmse", 2.1, "pass"), ("rmse", 2.3, "warn"), ("rmse", 2.6, "fail"), ("rmse", 1.2, "pass"),
     ("accuracy", 0.9, "pass"), ("accuracy", 0.74, "warn"), ("accuracy", 0.69, "fail")],
)  # fmt: skip
def test_monitor_7_judges_an_estimate_in_the_worse_direction_only(metric, estimate, status):
    from mlops_jupyter.monitoring import monitors
    from mlops_jupyter.monitoring.estimation import Estimation, Window

    limits = (1.5, 2.5, 2.0) if metric == "rmse" else (0.7, 0.9, 0.8)
    window = Window(0, 500, estimate, estimate - 0.05, estimate + 0.05, False)
    estimation = Estimation("DLE", metric, limits[2], limits[0], limits[1], [window])
    check = monitors.quality(None, {}, monitors.Limits(), lambda: estimation)
    assert check.status == status and check.evidence.startswith("no labels yet: estimated ")
