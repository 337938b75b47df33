"""Champion and challenger on one endpoint: a split of the traffic (sticky by a header when
asked), a shadow that is logged and never returned, promotion in the middle of a trial, the two
compared side by side, and the split carried to KServe as a canary."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import call, module_project, send, wait_for

from mlops_jupyter import monitoring, serving, tracking
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.serving import predlog

SHIFT = {"1": 0.0, "2": 0.5}  # version 1 answers x, version 2 answers x + 0.5


def _shifted(shift: float):
    import mlflow

    class Shifted(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["x"] + shift).tolist()

    return Shifted()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project whose model ``shift`` has version 1 (champion) and 2 (challenger)."""
    import mlflow

    with module_project(tmp_path_factory, "trials") as root:
        example = pd.DataFrame({"x": [0.25, 1.5]})
        for version, alias in (("1", "champion"), ("2", "challenger")):
            with tracking.run(name=f"shift-{version}", project=root) as run:
                mlflow.pyfunc.log_model(
                    name="model", python_model=_shifted(SHIFT[version]), input_example=example
                )
            tracking.register(run.id, "shift", alias=alias, project=root)
        with tracking.run(name="shift-hung", project=root) as run:  # version 3
            mlflow.pyfunc.log_model(name="model", python_model=_hung(), input_example=example)
        tracking.register(run.id, "shift", alias="hung", project=root)
        yield root


def _hung():
    import mlflow

    class Hung(mlflow.pyfunc.PythonModel):
        """Right answers (x + 0.5), 20 s late: a challenger stuck on a lock, or a slow API."""

        def predict(self, context, model_input, params=None):
            if len(model_input) == 1 and float(model_input["x"].iloc[0]) > 100:
                time.sleep(20)
            return (model_input["x"] + 0.5).tolist()

    return Hung()


def _variant(answer: float, x: float) -> str:
    return "2" if abs(answer - x - 0.5) < 1e-9 else "1"


def _records(endpoint, shadows=False) -> pd.DataFrame:
    folder = serving.endpoints.record_of(endpoint)["log_dir"]
    from pathlib import Path

    return predlog.read(Path(folder), shadows=shadows).to_pandas()


def _answers_by_user(url: str) -> dict[str, set[float]]:
    """The answers to x = 1 each of 20 users (header X-User-Id) got over 200 requests."""
    by_user: dict[str, set[float]] = {}
    for i in range(200):
        user = f"user-{i % 20}"
        status, _, answer = call(
            url + "/invocations",
            b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}',
            headers={"X-User-Id": user},
        )
        assert status == 200, answer
        by_user.setdefault(user, set()).add(answer["predictions"][0])
    return by_user


def test_a_split_sends_its_share_to_the_challenger(project):
    ep = serving.start(
        "shift@champion", name="split", challenger="shift@challenger", split=10,
        project=project,
    )  # fmt: skip
    try:
        assert "challenger shift@challenger (version 2) on 10% of requests" in str(ep)
        xs = np.round(np.random.default_rng(1).uniform(0, 100, 1000), 3)

        def ask(i):
            x = float(xs[i])
            (answer,) = send(ep.url, pd.DataFrame({"x": [x]}), request_id=f"r{i}")
            return _variant(answer, x)

        with ThreadPoolExecutor(8) as pool:
            answered = list(pool.map(ask, range(len(xs))))
        share = answered.count("2") / len(answered)
        assert 0.06 < share < 0.14, share  # 10% +- 4 standard deviations of 1,000 draws
        log = _records(ep).set_index("id")
        for i, version in enumerate(answered):  # each record names the version that answered
            record = log.loc[f"r{i}"]
            assert (record["version"], record["variant"]) == (
                version, "challenger" if version == "2" else "champion"
            )  # fmt: skip

        # sticky: one user, one model, whatever the split draws
        by_user = _answers_by_user(ep.url)
        assert any(len(v) > 1 for v in by_user.values())  # not sticky unless asked

        serving.trial("split", "shift@challenger", split=30, sticky="X-User-Id", project=project)
        wait_for(lambda: call(ep.url + "/version")[2].get("challenger", {}).get("split") == 30)
        by_user = _answers_by_user(ep.url)
        assert all(len(v) == 1 for v in by_user.values()), by_user
        assert {1.0, 1.5} == set().union(*by_user.values())  # both models have users

        labels = pd.DataFrame({"id": [f"r{i}" for i in range(len(xs))], "label": xs})
        monitoring.add_labels("split", labels, project=project)
        table = monitoring.compare_trial("split", project=project).set_index("variant")
        assert table.loc["champion", "version"] == "1"
        assert table.loc["challenger", "version"] == "2"
        assert table["requests"].sum() == 1400
        assert table["errors"].sum() == 0
        assert table.loc["champion", "quality"] == "RMSE 0"
        assert table.loc["challenger", "quality"] == "RMSE 0.5"
        assert table.loc["champion", "labelled"] + table.loc["challenger", "labelled"] == 1000
    finally:
        serving.stop("split", project=project)


def test_a_shadow_is_logged_and_never_returned(project):
    ep = serving.start("shift@champion", name="shadow", project=project)
    try:
        with pytest.raises(MlopsError, match="answered no request in a trial") as caught:
            monitoring.compare_trial("shadow", project=project)
        assert "%serve trial shadow MODEL@challenger" in str(caught.value)
        changed = serving.trial("shadow", "shift@challenger", shadow=True, project=project)
        assert "a shadow of every request" in changed.challenger
        wait_for(lambda: call(ep.url + "/version")[2].get("challenger", {}).get("shadow"))
        xs = [float(x) for x in range(100)]
        for i, x in enumerate(xs):
            assert send(ep.url, pd.DataFrame({"x": [x, x + 1]}), request_id=f"s{i}") == [x, x + 1]

        def shadows():
            log = _records(ep, shadows=True)
            return log[log.get("shadow", pd.Series(False, index=log.index)).fillna(False)]

        wait_for(lambda: len(shadows()) == 100, timeout=20)  # written after each answer
        shadow = shadows()
        assert list(shadow["id"]) == [f"s{i}" for i in range(100)]
        assert [list(o) for o in shadow["outputs"]] == [[x + 0.5, x + 1.5] for x in xs]
        assert set(shadow["version"]) == {"2"}
        answered = _records(ep)  # traffic, as monitors read it: the champion's records only
        assert len(answered) == 100 and set(answered["variant"]) == {"champion"}

        table = monitoring.compare_trial("shadow", project=project).set_index("variant")
        assert list(table.index) == ["champion", "challenger (shadow)"]
        assert table["requests"].tolist() == [100, 100]
        assert table.loc["challenger (shadow)", "output_drift"].startswith(("alike", "differ"))

        serving.trial("shadow", None, project=project)  # the trial ends: one command
        wait_for(lambda: "challenger" not in call(ep.url + "/version")[2])
        assert send(ep.url, pd.DataFrame({"x": [1.0]})) == [1.0]
    finally:
        serving.stop("shadow", project=project)


def test_promoting_the_challenger_mid_trial_fails_no_request(project):
    ep = serving.start(
        "shift@champion", name="promote", challenger="shift@challenger", split=50,
        project=project,
    )  # fmt: skip
    stop, failures, answers = threading.Event(), [], []

    def client():
        while not stop.is_set():
            try:
                answers.append(send(ep.url, pd.DataFrame({"x": [1.0]}))[0])
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                failures.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        time.sleep(0.5)
        tracking.promote("shift/2", "champion", project=project)
        wait_for(lambda: call(ep.url + "/version")[2]["version"] == "2", timeout=30)
        seen = len(answers)
        wait_for(lambda: len(answers) > seen + 20)
    finally:
        stop.set()
        thread.join()
        tracking.promote("shift/1", "champion", project=project)
        serving.stop("promote", project=project)
    assert not failures
    assert set(answers[-20:]) == {1.5}  # champion and challenger are version 2 now


def test_trial_mistakes_get_one_line(project, tmp_path):
    cases = [
        (dict(challenger="shift@challenger"), "give the percent of requests"),
        (dict(challenger="shift@challenger", split=150), "at most 100"),
        (dict(challenger="shift@challenger", split=10, shadow=True), "not both"),
        (dict(split=10), "need a --challenger"),
        (dict(challenger="shift@challengr", split=10), "challenger"),
        (dict(challenger="shift@challenger", split=10, sticky="X User"), "name an HTTP header"),
    ]
    for kwargs, expected in cases:
        with pytest.raises(MlopsError, match=expected) as caught:
            serving.start("shift@champion", name="bad", project=project, **kwargs)
        assert "\n" not in str(caught.value)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLOPS_JUPYTER_SERVE_WORKERS", "many")
        with pytest.raises(MlopsError, match="serve_workers must be auto or a number"):
            serving.start("shift@champion", name="bad", project=project)
    assert not serving.endpoints.endpoints(project)  # nothing half-started
    with pytest.raises(MlopsError, match="no endpoint 'nope'"):
        serving.trial("nope", "shift@challenger", split=10, project=project)


def test_a_challenger_taking_other_inputs_gets_no_split_but_may_shadow(project):
    import mlflow

    for name, example in (("wide", {"x": [0.5], "y": ["a"]}), ("whole", {"x": [1]})):
        with tracking.run(name=name, project=project) as run:
            mlflow.pyfunc.log_model(name="model", python_model=_shifted(0.0),
                                    input_example=pd.DataFrame(example))  # fmt: skip
        tracking.register(run.id, name, project=project)
    with pytest.raises(MlopsError, match=r"^wide/1 cannot answer every request shift@champion "
                       r"\(version 1\) takes: it needs column\(s\) y; .* --shadow"):  # fmt: skip
        serving.start("shift@champion", name="wide", challenger="wide/1", split=10,
                      project=project)  # fmt: skip
    assert not serving.endpoints.endpoints(project)
    ep = serving.start("shift@champion", name="wide", challenger="wide/1", shadow=True,
                       project=project)  # fmt: skip
    try:
        with pytest.raises(MlopsError, match="takes: x is long, not double; on a split"):
            serving.trial("wide", "whole/1", split=50, project=project)  # a running one too
        assert send(ep.url, pd.DataFrame({"x": [1.0]}), request_id="w1") == [1.0]
        wait_for(lambda: len(_records(ep, shadows=True)) == 2)  # the shadow's refusal, logged
        (refused,) = _records(ep, shadows=True).query("shadow == True").itertuples()
        assert refused.status == 422 and "missing column(s) y" in refused.error
    finally:
        serving.stop("wide", project=project)


def test_a_split_exports_as_a_kserve_canary(project, tmp_path):
    ep = serving.start(
        "shift@champion", name="canary", challenger="shift@challenger", split=10,
        project=project,
    )  # fmt: skip
    try:
        out = serving.export(
            "canary", "kserve", tmp_path / "k8s", "s3://models/shift/1", project=project
        )
    finally:
        serving.stop(ep.name, project=project)
    canary = yaml.safe_load((out / "inference-service-canary.yaml").read_text())
    predictor = canary["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["model"]["storageUri"] == "s3://models/shift/2"
    assert (out / "challenger" / "MLmodel").exists()
    assert "canaryTrafficPercent" in (out / "README.md").read_text()


def test_the_magics(project, shell, monkeypatch, capsys):
    monkeypatch.chdir(project)
    shell.run("%serve start shift@champion --name magic --challenger shift@challenger --split 50")
    try:
        out = capsys.readouterr().out
        assert "(1 worker, the serve_workers setting; docs:" in out
        assert "on 50% of requests" in out
        url = serving.endpoints.get("magic").url
        for i in range(40):
            send(url, pd.DataFrame({"x": [float(i)]}), request_id=f"m{i}")
        table = shell.run("%monitor compare magic")
        assert set(table["variant"]) == {"champion", "challenger"}
        assert table["requests"].sum() == 40
        with pytest.raises(Exception, match="name a challenger"):
            shell.run("%serve trial magic")
        shell.run("%serve trial magic --end")
        assert "trial ended" in capsys.readouterr().out
        assert serving.endpoints.get("magic").challenger is None
    finally:
        serving.stop("magic", project=project)


@pytest.mark.parametrize("trial", [{"shadow": True}, {"split": 50.0}])
def test_a_hung_challenger_never_holds_the_champions_answers(project, trial):
    """A challenger whose call never ends (here: 20 s) is dropped from the trial with one line
    in the server log; no champion answer waits for it, and on a split the requests sent to it
    are answered by the champion."""
    import json
    from pathlib import Path

    name = "hostage-" + ("shadow" if trial.get("shadow") else "split")  # a server log each
    endpoint = serving.start("shift@champion", name=name, project=project,
                             challenger="shift@hung", **trial)  # fmt: skip
    try:
        times = []
        for k in range(12):
            x = 1000.0 + k  # every row makes the challenger hang
            began = time.perf_counter()
            status, _, answer = call(
                f"{endpoint.url}/invocations",
                json.dumps({"dataframe_records": [{"x": x}]}).encode(),
            )
            times.append(time.perf_counter() - began)
            assert status == 200 and answer["predictions"] == [x], answer  # the champion's
        # at most one request (on a split) waited for the challenger's 2 s; none for its 20 s
        assert sorted(times)[-2] < 1.5 and max(times) < 8, times
        server_log = Path(serving.endpoints.record_of(endpoint)["server_log"])
        line = "challenger shift version 3 dropped from the trial: a prediction took over 2 s"
        wait_for(lambda: line in server_log.read_text(), timeout=30)  # a shadow's: 2 s later
        status, _, answer = call(
            f"{endpoint.url}/invocations", json.dumps({"dataframe_records": [{"x": 1.0}]}).encode()
        )
        assert answer["predictions"] == [1.0]  # the champion, the trial over
        workers = serving.endpoints.record_of(endpoint)["workers"]
        dropped = server_log.read_text().count("dropped from the trial")
        assert 1 <= dropped <= workers  # one line per worker that met it, no more
    finally:
        serving.stop(name, project=project)
