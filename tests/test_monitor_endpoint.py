"""Drift of what an endpoint served against the data its model was trained on (lineage)."""

from __future__ import annotations

import json
import re
import urllib.request

import numpy as np
import pandas as pd
import pytest
import shared_endpoint
from helpers import send

from mlops_jupyter import monitoring
from mlops_jupyter.errors import MlopsError

# one started endpoint for this module's tests (see shared_endpoint)
shared, project, endpoint = (
    shared_endpoint.shared,
    shared_endpoint.project,
    shared_endpoint.endpoint,
)


def test_drift_of_served_inputs_against_the_training_version(endpoint, monkeypatch):
    with pytest.raises(MlopsError, match="no answered requests"):
        monitoring.drift(endpoint.name)
    rng = np.random.default_rng(4)
    for _ in range(4):  # 4 requests of 150 rows: `a` shifted, `b` and `c` as in training
        served = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
        served["a"] += 0.8
        send(endpoint.url, served)
    current = monitoring.served_inputs(endpoint.name)
    assert current.shape == (600, 3)

    result = monitoring.drift(endpoint.name)
    assert result.reference == "features@v1"  # found through the run's lineage
    assert result.skipped == ["extra"]
    verdicts = result.frame().set_index("column")["drifted"].to_dict()
    assert verdicts == {"a": True, "b": False, "c": False, "prediction": True}
    inputs = result.frame().query("role == 'input'")
    assert set(inputs["method"]) == {"Kolmogorov-Smirnov p-value"}  # 600 rows: a test
    # the classifier's outputs: classes, compared as categories; `a` shifted, so they moved
    assert result.output.kind == "categorical" and result.output.drifted
    assert "predictions drifted" in result.summary()

    last = monitoring.drift(endpoint.name, window=1)  # the last request only: 150 rows
    assert last.frame()["current_rows"].tolist() == [150, 150, 150, 150]

    # a window of log larger than memory is read a column at a time: the same report
    monkeypatch.setattr("mlops_jupyter.monitoring.served.IN_MEMORY_BYTES", 0)
    lazy = monitoring.drift(endpoint.name)
    pd.testing.assert_frame_equal(lazy.frame(), result.frame())
    assert lazy.multivariate.error == pytest.approx(result.multivariate.error, rel=1e-12)
    last = monitoring.drift(endpoint.name, window=1)
    assert last.frame()["current_rows"].tolist() == [150, 150, 150, 150]


def test_the_monitor_magic(shell, endpoint):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="no answered requests"):
        shell.run(f"%monitor drift {endpoint.name}")
    served = pd.DataFrame(np.random.default_rng(6).normal(size=(100, 3)), columns=["a", "b", "c"])
    send(endpoint.url, served)
    frame = shell.run(f"%monitor drift {endpoint.name} -w 1")
    assert frame["column"].tolist() == ["a", "b", "c", "prediction"]
    card = shell.run(f"%monitor scorecard {endpoint.name}")
    assert len(card) == 7 and set(card["status"]) <= {"pass", "warn", "fail"}
    with pytest.raises(UsageError, match="neither a DataFrame variable"):
        shell.run(f"%monitor labels {endpoint.name} nothing")
    with pytest.raises(UsageError, match="no endpoint 'nope' is running"):
        shell.run("%monitor scorecard nope")


def test_the_scorecard_of_an_endpoint_and_its_labels(endpoint, project):
    import subprocess
    import sys

    rng = np.random.default_rng(5)
    ids, predicted = [], []
    for i in range(40):  # one-row requests, each with its own id, as a client would send
        row = pd.DataFrame(rng.normal(size=(1, 3)), columns=["a", "b", "c"])
        body = json.dumps({"dataframe_split": {"columns": list(row), "data": row.values.tolist()}})
        request = urllib.request.Request(
            endpoint.url + "/invocations",
            body.encode(),
            {"Content-Type": "application/json", "X-Request-Id": f"req-{i}"},
        )
        predicted.append(json.loads(urllib.request.urlopen(request).read())["predictions"][0])
        ids.append(f"req-{i}")
    card = monitoring.scorecard(endpoint.name)
    status = {c.monitor.split()[0]: c.status for c in card.checks}
    assert status == {"1": "pass", "2": "pass", "3": "pass", "4": "pass", "5": "pass",
                      "6": "pass", "7": "warn"}  # fmt: skip
    assert "no labels yet" in card.checks[6].evidence and card.status == "warn"
    # a window of log larger than memory: inputs read a column at a time, the same checks
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mlops_jupyter.monitoring.served.IN_MEMORY_BYTES", 0)
        large = monitoring.scorecard(endpoint.name)
    for small_check, large_check in zip(card.checks[:6], large.checks[:6], strict=True):
        if not small_check.monitor.startswith("6"):  # ops: the resources sampled move
            assert large_check == small_check

    with pytest.raises(MlopsError, match="none of the 2 label ids match a row m answered; a "):
        monitoring.add_labels(endpoint.name, pd.DataFrame({"id": ["x", "y"], "label": [0, 1]}))
    labels = pd.DataFrame({"id": ids, "label": predicted})
    assert monitoring.add_labels(endpoint.name, labels).matched == 40
    card = monitoring.scorecard(endpoint.name)
    assert card.checks[6].status == "pass" and "accuracy 1.000 on 40" in card.checks[6].evidence

    out = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter.cli", "monitor", "check", endpoint.name, "--json"],
        capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["status"] == "pass" and len(payload["checks"]) == 7


def test_labels_join_every_row_of_batch_requests(endpoint, shell):
    rng = np.random.default_rng(7)
    predicted = {}
    for k in range(60):  # the case: 60 requests of 10 rows, ids req-0 ... req-59
        rows = pd.DataFrame(rng.normal(size=(10, 3)), columns=["a", "b", "c"])
        predicted[f"req-{k}"] = send(endpoint.url, rows, request_id=f"req-{k}")
    labels = pd.DataFrame(
        [
            (f"{k}#{j}", value)
            for k, answers in predicted.items()
            for j, value in enumerate(answers)
        ],
        columns=["id", "label"],
    )
    added = monitoring.add_labels(endpoint.name, labels)
    assert (added.matched, added.unmatched, added.duplicates) == (600, 0, 0)
    assert str(added) == "600 of 600 labels matched a row m answered; 0 unmatched, 0 duplicate ids"
    quality = monitoring.scorecard(endpoint.name).checks[6]
    assert quality.status == "pass" and "accuracy 1.000 on 600 labelled rows" in quality.evidence

    # a later batch: a label given twice (the last kept), two ids nobody was answered under
    late = pd.DataFrame(
        {
            "id": ["req-3#4", "req-3#4", "req-60#0", "req-3#10"],
            "label": [1 - predicted["req-3"][4], predicted["req-3"][4], 0, 0],
        }
    )
    shell.user_ns["late"] = late
    shown = shell.run(f"%monitor labels {endpoint.name} late")
    assert str(shown) == "1 of 4 labels matched a row m answered; 2 unmatched, 1 duplicate ids"
    assert monitoring.scorecard(endpoint.name).checks[6].evidence.startswith("accuracy 1.000")

    # labels of another kind than the model answers: one line, nothing stored
    with pytest.raises(MlopsError, match=r"the labels are text but m answers numbers \(e.g. "):
        monitoring.add_labels(endpoint.name, pd.DataFrame({"id": ["req-0#0"], "label": ["yes"]}))
    from mlops_jupyter.monitoring import labels as stored_labels

    assert len(stored_labels.stored(endpoint.name)) == 602  # 600 and the two unmatched


def test_a_three_class_models_performance_is_estimated_too(shared, project):
    from sklearn.linear_model import LogisticRegression

    from mlops_jupyter import serving, tracking
    from mlops_jupyter.monitoring import monitors

    rng = np.random.default_rng(12)
    weights = np.array([[2.0, 0.0, 0.0], [-1.0, 1.7, 0.0], [-1.0, -1.7, 0.0]])

    def rows(n: int, spread: float) -> pd.DataFrame:
        frame = pd.DataFrame(rng.normal(size=(n, 3)) * spread, columns=["a", "b", "c"])
        odds = np.exp(frame.to_numpy() @ weights.T)  # the same chances wherever traffic goes
        drawn = (rng.random((n, 1)) > (odds / odds.sum(1, keepdims=True)).cumsum(1)).sum(1)
        return frame.assign(truth=np.array(["low", "mid", "top"])[drawn])

    reference = rows(3000, 2.0)
    with tracking.run(name="three", project=project) as run:
        fitted = LogisticRegression().fit(reference[["a", "b", "c"]], reference.truth)
        tracking.log_model(fitted, input_example=reference[["a", "b", "c"]].head(2))
    tracking.register(run.id, "three", alias="champion", project=project)
    three = serving.start("three@champion", name="three", project=project)
    try:
        truth = []
        for k in range(4):  # two batches as in training, two near where the classes meet
            batch = rows(100, 2.0 if k < 2 else 0.3)
            send(three.url, batch[["a", "b", "c"]], f"t-{k}")
            truth += [(f"t-{k}#{j}", label) for j, label in enumerate(batch.truth)]
        found = monitoring.estimate("three", reference=reference, target="truth", chunk_size=200)
        assert set(found) == {"roc_auc", "f1", "accuracy"}
        for estimation in found.values():  # macro averages over the three classes
            usual, unsure = estimation.windows
            assert not usual.alert and unsure.alert and unsure.estimate < estimation.lower
        card = monitors.quality(None, {}, monitors.Limits(), lambda: found["accuracy"])
        assert card.status == "fail"
        assert card.evidence.startswith("no labels yet: estimated accuracy")
        # the labels of the first 200 rows arrive: realized beside estimated
        monitoring.add_labels("three", pd.DataFrame(truth[:200], columns=["id", "label"]))
        again = monitoring.estimate("three", reference=reference, target="truth", chunk_size=200)
    finally:
        serving.stop("three", project=project)
    first, later = again["accuracy"].windows
    assert abs(first.realized - first.estimate) < 0.1 and later.realized is None


def test_an_id_column_names_the_rows_and_never_reaches_the_model(shared, project):
    from helpers import call

    from mlops_jupyter import serving

    loans = serving.start("m@champion", name="loans", id_column="loan_id", project=project)
    try:
        rows = pd.DataFrame(np.random.default_rng(8).normal(size=(5, 3)), columns=["a", "b", "c"])
        rows.insert(0, "loan_id", [9001, 9002, 9003, 9004, 9005])
        predicted = send(loans.url, rows)
        status, _, answer = call(
            loans.url + "/invocations",
            json.dumps(
                {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[0, 0, 0]]}}
            ).encode(),
        )
        assert status == 422 and "each request needs column 'loan_id'" in answer["message"]
        labels = pd.DataFrame(
            {"id": ["9001", "9005", "x"], "label": [predicted[0], predicted[4], 1]}
        )
        added = monitoring.add_labels("loans", labels)
        assert (added.matched, added.unmatched) == (2, 1)
        assert list(monitoring.served_inputs("loans")) == ["a", "b", "c"]  # logged as ids only
    finally:
        serving.stop("loans", project=project)


def test_a_model_pinning_other_packages_is_named_on_load_and_by_monitor_1(project, caplog):
    import mlflow
    from sklearn.linear_model import LinearRegression

    from mlops_jupyter import tracking
    from mlops_jupyter.monitoring import monitors
    from mlops_jupyter.serving import model

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with tracking.run(name="old-pins"):
        logged = mlflow.sklearn.log_model(
            LinearRegression().fit(X, [0.0, 1.0, 2.0]),
            name="model",
            input_example=X,
            pip_requirements=["scikit-learn==0.20.0", "numpy==1.0.0"],
        )
    with caplog.at_level("WARNING", logger="mlops_jupyter.serving"):
        served = model.load(logged.model_uri, "old-pins", "run", None)
    assert served.predict([[3.0]], ["a"]) == pytest.approx([3.0])  # it still serves
    assert "numpy 1.0.0 (serving: " in caplog.text
    assert "scikit-learn 0.20.0 (serving: " in caplog.text
    check = monitors.dependencies({"uri": logged.model_uri})
    assert check.status == "fail"
    assert "scikit-learn 0.20.0 (serving: 1." in check.evidence


def test_performance_is_estimated_before_labels_arrive(endpoint, shell):
    from mlops_jupyter.monitoring import monitors

    rng = np.random.default_rng(11)
    reference = pd.DataFrame(rng.normal(size=(3000, 3)), columns=["a", "b", "c"])
    reference["truth"] = (reference.a + rng.normal(scale=0.5, size=3000) > 0).astype(int)
    truth = {}
    for k in range(8):  # 8 batches of 50 rows, the later four near the model's boundary
        rows = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
        rows["a"] *= 1.0 if k < 4 else 0.15
        send(endpoint.url, rows, request_id=f"batch-{k}")
        noisy = (rows.a + rng.normal(scale=0.5, size=50) > 0).astype(int)
        truth.update({f"batch-{k}#{j}": int(v) for j, v in enumerate(noisy)})

    found = monitoring.estimate(endpoint.name, reference=reference, target="truth", chunk_size=200)
    accuracy = found["accuracy"]
    assert [(w.start, w.end, w.realized) for w in accuracy.windows] == [(0, 200, None),
                                                                       (200, 400, None)]  # fmt: skip
    usual, unsure = accuracy.windows
    assert not usual.alert and unsure.alert and unsure.estimate < accuracy.lower
    assert abs(accuracy.reference - usual.estimate) < 0.06
    # on a window of log larger than memory, the estimate takes its newest part (here, all)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mlops_jupyter.monitoring.served.IN_MEMORY_BYTES", 0)
        newest = monitoring.estimate(endpoint.name, reference=reference, target="truth",
                                     chunk_size=200)["accuracy"]  # fmt: skip
    assert [w.estimate for w in newest.windows] == [w.estimate for w in accuracy.windows]
    card = monitors.quality(None, {}, monitors.Limits(), lambda: accuracy)
    assert card.status == "fail" and card.evidence.startswith("no labels yet: estimated accuracy")

    # the labels of the first 200 rows arrive: realized beside estimated
    labels = pd.DataFrame({"id": list(truth)[:200], "label": list(truth.values())[:200]})
    assert monitoring.add_labels(endpoint.name, labels).matched == 200
    shell.user_ns["reference"] = reference
    frame = shell.run(f"%monitor estimate {endpoint.name} --rows 200 -t truth -r reference")
    first = frame[frame.metric == "accuracy"].iloc[0]
    assert abs(first.realized - first.estimate) < 0.08

    with pytest.raises(MlopsError, match=r"truth column: target=COLUMN \(the reference features"):
        monitoring.estimate(endpoint.name)  # the training data has no truth column (extra: 1.0)
    with pytest.raises(MlopsError, match=r"column 'extra' \(the DataFrame given\) holds 1.0, not"):
        monitoring.estimate(endpoint.name, reference=reference.assign(extra=1.0), target="extra")
    holes = reference.assign(a=reference.a.where(reference.index % 7 > 0))  # a NaN in every 7th
    with pytest.raises(MlopsError, match=r"m's model could not score the DataFrame given to "):
        monitoring.estimate(endpoint.name, reference=holes, target="truth")


def test_watch_retrains_gates_promotes_and_tells_a_webhook(shared, project, capsys):
    import http.server
    import threading

    from helpers import make_notebook, wait_for

    from mlops_jupyter import cli, datasets, tracking
    from mlops_jupyter.monitoring import watch

    endpoint = shared_endpoint.fresh_traffic(shared[1], project)
    posted = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    rng = np.random.default_rng(13)
    seed = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    (project / "labelled.csv").write_text(
        seed.assign(y=(seed.b > 0).astype(int)).to_csv(index=False)
    )
    datasets.add(project / "labelled.csv", name="labelled", project=project)
    retrain = make_notebook(
        project / "retrain.ipynb",
        'dataset = "labelled@v1"',
        "from sklearn.linear_model import LogisticRegression\n"
        "from mlops_jupyter import datasets, tracking\n"
        "df = datasets.load(dataset)\n"
        'model = LogisticRegression().fit(df[["a", "b", "c"]], df["y"])\n'
        'tracking.log_model(model, input_example=df[["a", "b", "c"]].head(2))',
    )
    try:
        # the world moved: a and b far from training, and the truth is now b > 0
        labels, sent = {}, []
        for k in range(6):
            rows = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"]) + [4, 4, 0]
            rows["b"] -= 4 * (k % 2)  # half the rows on each side of b = 0
            send(endpoint.url, rows, request_id=f"w-{k}")
            sent.append(rows)
            labels.update({f"w-{k}#{j}": int(v > 0) for j, v in enumerate(rows.b)})
        monitoring.add_labels(endpoint.name, pd.DataFrame(labels.items(), columns=["id", "label"]))

        found = watch.step(endpoint.name, retrain, "labelled", ["accuracy+0.1"], webhook=hook)
        assert found.status == "fail" and "2 data invariants" in found.failed, found
        assert (found.dataset, found.candidate, found.promoted) == ("labelled@v2", "m/2", True), (
            found
        )
        assert datasets.info("labelled@v2").rows == 240  # the newest 60 are the gate's alone
        assert "retrained on labelled@v2 (run m-retrain, m/2); gate passed" in str(found)
        assert "on the newest 60 labelled rows (answered from " in found.gate
        assert "held out of labelled@v2)" in found.gate
        trained = datasets.load("labelled@v2")[["a", "b", "c"]].round(9)
        assert trained.merge(sent[-1].round(9)).empty  # the last request: held out whole
        assert str(found).endswith("; promoted m/2")
        run = tracking.get_run(found.run)
        assert (
            run.data.tags["mlops.watch"] == "m" and "labelled@v2" in run.data.tags["mlops.datasets"]
        )
        assert (
            posted
            and posted[-1]["text"].startswith("mlops-jupyter: ")
            and posted[-1]["step"]["promoted"]
        )
        assert posted[-1]["scorecard"]["status"] == "fail"
        served = lambda: json.loads(urllib.request.urlopen(endpoint.url + "/version").read())  # noqa: E731
        wait_for(lambda: served()["version"] == "2", timeout=30)  # the endpoint follows

        # cron's `watch --once` without a retrain: one line, recorded, nothing posted unchanged
        assert cli.main(["monitor", "watch", "m", "--once"]) == 0
        assert re.match(r"\d\d:\d\d m (PASS|WARN|FAIL)", capsys.readouterr().out)
        assert [s.candidate for s in watch.history("m")] == ["m/2", None]
        with pytest.raises(MlopsError, match="interval '1y': use a number and s, m, h or d"):
            watch.interval("1y")
        with pytest.raises(MlopsError, match="labelled has no column 'nope'; it has a, b, c, y"):
            watch.labelled_version(endpoint.name, "labelled", "nope", project)
        (project / "labelled.csv").write_text("a,b,c,y\n1,2,3,1\n")  # the user's own edit
        with pytest.raises(MlopsError, match=r"labelled.csv holds .*; add it as a version first"):
            watch.labelled_version(endpoint.name, "labelled", "y", project)
        watch.post("http://127.0.0.1:9/hook", found, monitoring.Scorecard("m", []))  # nobody
        assert "the webhook http://127.0.0.1:9/… failed (URLError: " in capsys.readouterr().err
    finally:
        receiver.shutdown()
        tracking.promote("m/1", "champion")  # the module's other tests serve version 1


def test_skew_replays_only_a_data_version_that_holds_the_models_inputs(shared, project):
    """A run that read a lookup table (and had the training data loaded earlier in the
    process): the scorecard's skew monitor replays only a version holding the model's inputs
    (it replayed the first version read, raised a KeyError, and took `watch --once` down)."""
    from sklearn.linear_model import LogisticRegression

    from mlops_jupyter import datasets, serving, tracking

    (project / "codes.csv").write_text("code,label\n1,a\n2,b\n")
    datasets.add(project / "codes.csv", name="codes", project=project)
    X = datasets.load("features@v1", project=project)[["a", "b", "c"]]  # preloaded
    with tracking.run(name="fit-two", project=project) as run:
        datasets.load("codes@v1", project=project)  # read in the run: its first input
        model = LogisticRegression().fit(X, (X.b > 0).astype(int))
        tracking.log_model(model, input_example=X.head(2))
    tracking.register(run.id, "two", project=project)
    serving.start("two/1", project=project)
    try:
        card = monitoring.scorecard("two", project=project)
        skew = next(c for c in card.checks if c.monitor.startswith("3"))
        assert skew.status == "pass", skew.evidence
    finally:
        serving.stop("two", project=project)
