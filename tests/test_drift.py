"""Drift statistics against scipy on the same data; injected drift found, undrifted columns not."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from mlops_jupyter import monitoring
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.monitoring import statistics as drift

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(("n", "m"), [(50, 50), (1000, 700), (5000, 12345)])
def test_wasserstein_equals_scipy(n, m):
    u, v = RNG.normal(size=n), RNG.normal(0.3, 1.5, size=m)
    ours = drift.wasserstein_sorted(np.sort(u), np.sort(v))
    assert ours == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.integers(1, 60))
def test_wasserstein_a_block_of_steps_at_a_time_equals_scipy(n, m, steps):
    u, v = np.sort(RNG.normal(size=n)), np.sort(RNG.normal(0.3, 1.5, size=m))
    with mock.patch.object(drift, "STEPS_AT_ONCE", steps):
        ours = drift.wasserstein_sorted(u, v)
    assert ours == pytest.approx(stats.wasserstein_distance(u, v), rel=1e-9, abs=1e-12)


def test_each_method_matches_scipy_on_the_same_data():
    ref, cur = RNG.normal(size=500), RNG.normal(0.2, 1.0, size=400)
    small = drift.numeric_drift("x", ref, cur, monitoring.Thresholds())
    assert small.method == "Kolmogorov-Smirnov p-value"
    assert small.statistic == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-9)

    ref, cur = RNG.normal(size=5000), RNG.normal(0.2, 1.0, size=4000)
    large = drift.numeric_drift("x", ref, cur, monitoring.Thresholds())
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert large.method == "Wasserstein distance (normed)"
    assert large.statistic == pytest.approx(expected, rel=1e-9)

    cats = np.array(["a", "b", "c"])
    ref, cur = cats[RNG.integers(0, 3, 5000)], cats[RNG.choice(3, 4000, p=[0.5, 0.3, 0.2])]
    js = drift.categorical_drift("c", ref, cur, monitoring.Thresholds())
    p = pd.Series(ref).value_counts().sort_index().to_numpy()
    q = pd.Series(cur).value_counts().sort_index().to_numpy()
    assert js.statistic == pytest.approx(distance.jensenshannon(p / p.sum(), q / q.sum()), rel=1e-9)

    ref, cur = cats[RNG.integers(0, 3, 600)], cats[RNG.integers(0, 3, 500)]
    chi = drift.categorical_drift("c", ref, cur, monitoring.Thresholds())
    p = pd.Series(ref).value_counts().sort_index().to_numpy()
    q = pd.Series(cur).value_counts().sort_index().to_numpy()
    expected_counts = p / p.sum() * q.sum()
    assert chi.statistic == pytest.approx(stats.chisquare(q, expected_counts).pvalue, rel=1e-6)


def test_injected_drift_is_found_and_stable_columns_are_not():
    n = 20_000
    reference = pd.DataFrame(
        {
            "stable": RNG.normal(size=n),
            "shifted": RNG.normal(size=n),
            "scaled": RNG.exponential(size=n),
            "city": RNG.choice(["x", "y", "z"], n),
            "plan": RNG.choice(["free", "pro"], n),
        }
    )
    current = pd.DataFrame(
        {
            "stable": RNG.normal(size=n),
            "shifted": RNG.normal(0.5, 1.0, size=n),
            "scaled": RNG.exponential(scale=2.0, size=n),
            "city": RNG.choice(["x", "y", "z"], n, p=[0.6, 0.2, 0.2]),
            "plan": RNG.choice(["free", "pro"], n),
        }
    )
    result = monitoring.report(reference, current).frame().set_index("column")
    assert result["drifted"].to_dict() == {
        "stable": False, "shifted": True, "scaled": True, "city": True, "plan": False,
    }  # fmt: skip
    assert (result.loc[["shifted", "scaled", "city"], "psi"] > result.loc["stable", "psi"]).all()
    assert result.loc["city", "method"] == "Jensen-Shannon distance"
    assert monitoring.report(reference, current).share_drifted == pytest.approx(0.6)


def test_too_few_rows_are_said_not_guessed():
    small = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    (column,) = monitoring.report(small, small).columns
    assert column.method == "too few rows" and not column.drifted and math.isnan(column.statistic)
    assert "at least 30" in column.note


def test_columns_the_current_data_lacks_are_named():
    frame = pd.DataFrame({"x": np.arange(100.0)})
    with pytest.raises(MlopsError, match=r"column\(s\) y are not in both"):
        monitoring.report(frame, frame, columns=["x", "y"])
    with pytest.raises(MlopsError, match="share no columns"):
        monitoring.report(frame, pd.DataFrame({"z": [1]}))


def test_a_change_in_correlations_that_no_single_column_shows_is_caught():
    rng = np.random.default_rng(12)
    x = rng.normal(size=4000)
    reference = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.3, size=4000)})
    same = pd.DataFrame(
        rng.multivariate_normal([0, 0], reference.cov(), size=800), columns=["x", "y"]
    )
    # the same margins, but x and y no longer move together
    apart = pd.DataFrame({"x": rng.permutation(same["x"]), "y": rng.permutation(same["y"])})

    per_column = monitoring.report(reference, apart)
    assert not any(c.drifted for c in per_column.columns)  # each column alone looks the same
    joint = monitoring.multivariate_drift(reference, apart)
    assert joint.drifted and joint.error > joint.high and joint.components == 1
    assert ", outside the reference's band " in joint.summary()
    unchanged = monitoring.multivariate_drift(reference, same)
    assert not unchanged.drifted and unchanged.low <= unchanged.error <= unchanged.high

    with pytest.raises(MlopsError, match="at least two numeric columns"):
        monitoring.multivariate_drift(reference[["x"]], apart[["x"]])
    with pytest.raises(MlopsError, match="needs 300 reference rows and 30 current ones"):
        monitoring.multivariate_drift(reference.head(100), apart)


def test_a_large_report_runs_its_columns_on_every_core_with_the_same_verdicts():
    rng = np.random.default_rng(4)
    rows = 60_000  # 120,000 in all: the columns go to threads
    reference = pd.DataFrame({"x": rng.normal(size=rows), "y": rng.normal(size=rows),
                              "city": rng.choice(["ams", "rio"], rows), "n": rng.integers(0, 9, rows)})  # fmt: skip
    current = reference.assign(x=reference.x + 0.3, city=rng.choice(["ams", "rio", "lima"], rows))
    together = drift.report(reference, current)
    alone = [drift.report(reference[[c]], current[[c]]).columns[0] for c in reference.columns]
    assert together.columns == alone  # the same columns, in order, with the same figures
    assert [c.column for c in together.columns if c.drifted] == ["x", "city"]


def test_a_log_read_a_column_at_a_time_holds_what_the_in_memory_read_holds(tmp_path):
    from mlops_jupyter.monitoring import api, served
    from mlops_jupyter.serving import predlog

    log = predlog.PredictionLog(tmp_path, max_file_bytes=20_000)
    rng = np.random.default_rng(5)
    for i in range(400):  # batches of 1-5 rows; errors, probes, shadows and two versions mixed
        n = int(rng.integers(1, 6))
        record = {"id": f"r{i}", "ts": 1_000.0 + i // 2, "status": 200 if i % 7 else 422,
                  "version": 1 + (i > 250), "outputs": rng.normal(size=n).tolist(),
                  "inputs": {"x": rng.normal(size=n).tolist(), "k": ["a", None, "b", "c", "d"][:n],
                             "n": [int(v) for v in rng.integers(0, 9, n)]}}  # fmt: skip
        record.update({"probe": True} if i % 11 == 0 else {"shadow": True} if i % 13 == 0 else {})
        log.write(record)
    log.close()
    assert {p.suffix for p in predlog.files(tmp_path)} == {".parquet", ".jsonl"}

    def in_memory(since=None, until=None, version=None, last=None):
        table = predlog.read(tmp_path, since, until)
        table = table.filter(pa.compute.equal(table["status"], 200))
        if version is not None:
            table = table.filter(pa.compute.equal(table["version"], version))
        if last is not None:
            table = table.slice(max(0, table.num_rows - last))
        return api.inputs_of(table), api.outputs_of(table)

    for window in [{}, {"since": 1_050.0, "until": 1_150.0}, {"last": 37}, {"version": 2}]:
        expected, outputs = in_memory(**window)
        scanned = served.ServedColumns.scan(
            tmp_path, window.get("since"), window.get("until"), window.get("version"),
            window.get("last"),
        )  # fmt: skip
        assert len(scanned) == len(expected) and scanned.columns == ["x", "k", "n"], window
        for name in scanned.columns:
            column = scanned[name]
            assert column.tolist() == pytest.approx(expected[name].tolist(), nan_ok=True), name
        assert scanned.outputs().tolist() == pytest.approx(outputs.tolist())
        parts = pd.concat(list(scanned.chunks(["x", "n"])), ignore_index=True)
        assert parts["x"].tolist() == pytest.approx(expected["x"].tolist())
    assert served.ServedColumns.scan(tmp_path, 5_000.0, None) is None  # nothing in the window

    # a worker still writing: what was scanned is what is read, however the file grows meanwhile
    writer = predlog.PredictionLog(tmp_path)
    writer.write({"id": "w0", "ts": 3_000.0, "status": 200, "inputs": {"x": [1.0], "n": [1]}})
    scanned = served.ServedColumns.scan(tmp_path, 3_000.0, None)
    writer.write({"id": "w1", "ts": 3_001.0, "status": 200, "inputs": {"x": [2.0], "n": [2]}})
    assert len(scanned) == 1 and scanned["x"].tolist() == [1.0]
    writer.close()
