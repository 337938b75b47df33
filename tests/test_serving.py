"""Endpoints over real HTTP: three protocols, every client mistake, the log, kill -9, reloads."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import FEATURES, call, serve_classifier, train_classifier, wait_for

from mlops_jupyter import serving, tracking
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.serving import endpoints, predlog


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One endpoint (2 workers) on a registered LogisticRegression, shared by the module."""
    root = tmp_path_factory.mktemp("serve") / "project"
    endpoint, X = serve_classifier(root, workers=2)
    yield endpoint, X, root
    serving.stop(endpoint.name, project=root)


def rows(X, n=2):
    return X.head(n).to_dict(orient="records")


def local_predictions(root, X):
    import mlflow

    tracking.client(project=root)  # MLflow's current store: the project's
    return mlflow.sklearn.load_model("models:/clf/1").predict(X).tolist()


def test_every_protocol_answers_the_same(served):
    endpoint, X, root = served
    url = endpoint.url
    expected = local_predictions(root, X.head(2))
    split = {"columns": FEATURES, "data": X.head(2).values.tolist()}
    bodies = {
        "dataframe_split": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": rows(X)},
        "instances": {"instances": rows(X)},
        "inputs": {"inputs": X.head(2).to_dict(orient="list")},
    }
    for kind, body in bodies.items():
        status, headers, answer = call(f"{url}/invocations", json.dumps(body).encode())
        assert status == 200, (kind, answer)
        assert answer == {"predictions": expected}, kind
        assert len(headers["x-request-id"]) == 32
    csv = X.head(2).to_csv(index=False).encode()
    assert call(f"{url}/invocations", csv, "text/csv")[2] == {"predictions": expected}

    tensors = [
        {"name": c, "shape": [2], "datatype": "FP64", "data": X.head(2)[c].tolist()}
        for c in FEATURES
    ]
    status, _, answer = call(f"{url}/v2/models/clf/infer", json.dumps({"inputs": tensors}).encode())
    assert status == 200
    (output,) = answer["outputs"]
    assert (output["data"], output["shape"], output["datatype"]) == (expected, [2], "INT64")
    assert answer["model_name"] == "clf" and answer["model_version"] == "1"
    assert call(f"{url}/v2/health/live")[0] == call(f"{url}/v2/health/ready")[0] == 200
    assert call(f"{url}/v2/models/clf/ready")[0] == 200
    meta = call(f"{url}/v2/models/clf")[2]
    assert [i["name"] for i in meta["inputs"]] == FEATURES and meta["versions"] == ["1"]

    tf = call(f"{url}/v1/models/clf:predict", json.dumps({"instances": rows(X)}).encode())
    assert tf[2] == {"predictions": expected}
    tf = call(
        f"{url}/v1/models/clf:predict", json.dumps({"inputs": X.head(2).to_dict("list")}).encode()
    )
    assert tf[2] == {"outputs": expected}
    assert call(f"{url}/v1/models/clf")[2]["model_version_status"][0]["state"] == "AVAILABLE"

    docs = call(f"{url}/openapi.json")[2]
    assert docs["openapi"].startswith("3.") and "/invocations" in docs["paths"]


def test_mlflow_own_client_works_unchanged(served):
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    endpoint, X, root = served
    host, port = endpoint.url.removeprefix("http://").split(":")
    client = ScoringServerClient(host, int(port))
    client.ping()
    result = client.invoke(X.head(3))
    assert np.ravel(result.get_predictions()).tolist() == local_predictions(root, X.head(3))


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/invocations", {"dataframe_records": [{"f0": 1}]}, 422, "missing column(s) f1, f2, f3"),
        ("/invocations", {"dataframe_records": [{"f0": 1, "f1": 1, "f2": 1, "f3": 1, "x": 2}]}, 422,
         "unexpected column(s) x"),
        ("/invocations", {"dataframe_records": [{"f0": "a", "f1": 1, "f2": 1, "f3": 1}]}, 422,
         "column 'f0' expects double, got str 'a' (row 0)"),
        ("/invocations", b"{not json", 400, "malformed JSON"),
        ("/invocations", b"", 400, "the request body is empty"),
        ("/invocations", {"frame": []}, 400, "unknown field 'frame'"),
        ("/invocations", {"dataframe_split": {"columns": FEATURES, "data": [[1, 2]]}}, 400,
         "row 0 has not 4 values"),
        ("/v2/models/clf/infer", {"inputs": [{"name": "f0", "shape": [3], "datatype": "FP64",
                                              "data": [1, 2]}]}, 400, "does not match 2 values"),
        ("/v2/models/other/infer", {"inputs": []}, 404, "no model 'other' here"),
        ("/v1/models/clf:predict", {"rows": []}, 400, "send {\"instances\""),
        ("/nowhere", None, 404, "no route GET /nowhere"),
        ("/invocations", b"x" * (11 * 1024 * 1024), 413, "over 10,485,760 bytes"),
    ],
)  # fmt: skip
def test_client_mistakes_are_4xx_naming_the_problem(served, path, body, status, message):
    endpoint = served[0]
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    code, headers, answer = call(endpoint.url + path, data)
    assert code == status, answer
    assert message in answer["message"]
    assert answer["request_id"] == headers["x-request-id"]


def test_metrics_and_status_count_requests(served):
    endpoint, X, root = served
    for _ in range(3):
        call(f"{endpoint.url}/invocations", json.dumps({"dataframe_records": rows(X)}).encode())
    text = urllib.request.urlopen(f"{endpoint.url}/metrics").read().decode()
    assert 'mlops_model_version{endpoint="clf",model="clf"} 1.0' in text
    assert "mlops_request_latency_seconds_bucket" in text
    table = serving.status(project=root).set_index("endpoint")
    assert table.loc["clf", "requests"] >= 3 and table.loc["clf", "version"] == "1"
    assert table.loc["clf", "url"] == endpoint.url


def test_every_success_is_in_the_prediction_log(served):
    endpoint, X, root = served
    sent = []
    for i in range(5):
        status, headers, _ = call(
            f"{endpoint.url}/invocations",
            json.dumps({"dataframe_records": rows(X, 1)}).encode(),
            headers={"X-Request-Id": f"mine-{i}"},
        )
        assert status == 200 and headers["x-request-id"] == f"mine-{i}"
        sent.append(f"mine-{i}")
    rejected = call(f"{endpoint.url}/invocations", b'{"dataframe_records": [{"f0": 1}]}')
    assert rejected[0] == 422
    log = serving.logs("clf", 1000, project=root)
    logged = log[log["id"].isin(sent)]
    assert sorted(logged["id"]) == sent
    assert set(logged["status"]) == {200} and set(logged["version"]) == {"1"}
    first = logged.iloc[0]
    assert set(first["inputs"]) == set(FEATURES) and len(first["outputs"]) == 1
    refused = log[log["id"] == rejected[2]["request_id"]].iloc[0]
    assert refused["status"] == 422 and "missing column(s)" in refused["error"]  # logged too


def test_a_port_in_use_and_a_running_name_are_refused(served):
    endpoint, _, root = served
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MlopsError, match=f"port {port} on 127.0.0.1 is in use"):
            serving.start("clf@champion", name="other", port=port, project=root)
    with pytest.raises(MlopsError, match="endpoint clf is already running"):
        serving.start("clf@champion", project=root)
    with pytest.raises(MlopsError, match="no registered model 'clff'"):
        serving.start("clff@champion", project=root)


def test_a_token_protects_an_exposed_endpoint(project):
    version, _ = train_classifier(project)
    endpoint = serving.start(f"runs:/{version.run_id}/model", name="guarded", token="s3cret")
    assert endpoint.version == "run"  # served straight from the run, not the registry
    try:
        body = json.dumps({"dataframe_records": [dict.fromkeys(FEATURES, 0.0)]}).encode()
        assert call(f"{endpoint.url}/invocations", body)[0] == 401
        auth = {"Authorization": "Bearer s3cret"}
        status, _, answer = call(f"{endpoint.url}/invocations", body, headers=auth)
        assert status == 200
        assert call(f"{endpoint.url}/v2/health/ready")[0] == 200  # probes need no token
        frame = pd.DataFrame([dict.fromkeys(FEATURES, 0.0)])
        assert serving.predict("guarded", frame) == answer["predictions"]  # sends the token
    finally:
        serving.stop("guarded")


def _load(url: str, stop: threading.Event, ok: list[str], failed: list[str], X) -> None:
    body = json.dumps({"dataframe_records": rows(X, 1)}).encode()
    while not stop.is_set():
        request_id = os.urandom(8).hex()
        try:
            status, _, answer = call(
                url + "/invocations", body, headers={"X-Request-Id": request_id}
            )
        except (OSError, http.client.HTTPException):  # a killed server's half answers too
            failed.append(request_id)
            continue
        (ok if status == 200 else failed).append(request_id)


def test_kill_9_under_load_loses_no_answered_request(project):
    _, X = train_classifier(project)
    endpoint = serving.start("clf@champion", name="victim", workers=2)
    stop, ok, failed = threading.Event(), [], []
    clients = [
        threading.Thread(target=_load, args=(endpoint.url, stop, ok, failed, X)) for _ in range(4)
    ]
    for client in clients:
        client.start()
    wait_for(lambda: len(ok) > 50, timeout=60)  # answers flowing, others on their way
    os.killpg(endpoint.pid, signal.SIGKILL)
    stop.set()
    for client in clients:
        client.join()
    assert len(ok) > 50
    folder = endpoints.record_of(endpoint)["log_dir"]
    from mlops_jupyter.serving import predlog

    logged = set(predlog.read(Path(folder))["id"].to_pylist())
    assert set(ok) <= logged
    assert serving.status().empty  # the dead endpoint is noticed and cleaned up


def test_promote_and_reload_switch_versions_with_no_failed_request(project):
    _, X = train_classifier(project, alpha=1.0)
    endpoint = serving.start("clf@champion", name="live", workers=2)
    stop, ok, failed = threading.Event(), [], []
    clients = [
        threading.Thread(target=_load, args=(endpoint.url, stop, ok, failed, X)) for _ in range(3)
    ]
    for client in clients:
        client.start()
    try:
        train_classifier(project, alpha=0.01, alias="challenger")  # version 2
        tracking.promote("clf@challenger", "champion")
        # each worker follows the alias on its own: wait until answers agree on version 2
        deadline, agreeing = time.monotonic() + 90, 0
        while agreeing < 10:
            assert time.monotonic() < deadline, "the workers did not follow the alias"
            agreeing = agreeing + 1 if call(f"{endpoint.url}/version")[2]["version"] == "2" else 0
            time.sleep(0.1)
        serving.reload("live")  # an explicit reload too: still no failure
        seen = len(ok)
        wait_for(lambda: len(ok) > seen + 50, timeout=60)
    finally:
        stop.set()
        for client in clients:
            client.join()
        serving.stop("live")
    assert failed == [] and len(ok) > 50


def test_linear_models_are_compiled_only_when_exactly_equal():
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops_jupyter.serving.model import compile_linear

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    three = np.digitize(X[:, 0], [-0.5, 0.5])
    for estimator, y in [
        (LogisticRegression(), (X[:, 0] > 0).astype(int)),
        (LogisticRegression(), np.array(["a", "b", "c"])[three]),
        (Ridge(alpha=0.5), X @ np.arange(5.0)),
        (LinearRegression(), X[:, 1] * 2 + 1),
    ]:
        estimator.fit(X, y)
        direct = compile_linear(estimator, 5)
        assert direct is not None, estimator
        assert np.array_equal(direct(X), estimator.predict(X))
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, three)
    assert compile_linear(pipeline, 5) is None  # not a bare linear model: sklearn predicts


def test_the_serve_magic_from_start_to_export(shell, project, tmp_path):
    import yaml
    from IPython.core.error import UsageError

    _, X = train_classifier(project)
    shell.user_ns["df"] = X.head(3)
    endpoint = shell.run("%serve start clf@champion --name api")
    try:
        predictions = shell.run("%serve predict api df")
        assert len(predictions) == 3
        status = shell.run("%serve status")
        assert status["endpoint"].tolist() == ["api"] and status["requests"].iloc[0] == 1
        logged = shell.run("%serve logs api -n 5")
        assert list(logged["outputs"].iloc[-1]) == predictions

        out = shell.run(f"%serve export api --to kserve {tmp_path / 'kserve'}")
        service = yaml.safe_load((out / "inference-service.yaml").read_text())
        assert service["apiVersion"] == "serving.kserve.io/v1beta1"
        assert service["kind"] == "InferenceService"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", service["metadata"]["name"])
        model = service["spec"]["predictor"]["model"]
        assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
        assert model["storageUri"].startswith("s3://")
        settings = json.loads((out / "model-settings.json").read_text())
        assert settings["implementation"] == "mlserver_mlflow.MLflowRuntime"
        assert (out / settings["parameters"]["uri"] / "MLmodel").is_file()

        out = serving.export("clf/1", "mlserver", tmp_path / "mlserver")
        assert (out / "model" / "MLmodel").is_file() and not (
            out / "inference-service.yaml"
        ).exists()
        with pytest.raises(MlopsError, match="cannot export to 'docker'"):
            serving.export("api", "docker", tmp_path / "x")
    finally:
        shell.run("%serve stop api")
    with pytest.raises(UsageError, match="no endpoint 'api' is running"):
        shell.run("%serve stop api")
    assert endpoint.url.startswith("http://127.0.0.1:")


def test_the_prediction_log_rotates_and_keeps_a_bounded_size(tmp_path):
    from mlops_jupyter.serving import predlog

    log = predlog.PredictionLog(tmp_path, max_file_bytes=2_000, max_total_bytes=10_000)
    for i in range(500):
        log.write({"id": str(i), "ts": 1_000.0 + i, "inputs": {"f0": [float(i)]}, "outputs": [i]})
    log.close()  # after the compaction under way
    files = predlog.files(tmp_path)
    assert len(files) > 1
    assert sum(f.stat().st_size for f in files) <= 10_000 + 2_000  # the total stays bounded
    table = predlog.read(tmp_path)
    ids = [int(i) for i in table["id"].to_pylist()]
    assert ids == sorted(ids) and ids[-1] == 499  # the newest are kept, in time order
    with open(files[-1], "ab") as torn:  # a kill in the middle of a write leaves half a line
        torn.write(b'{"id": "half", "ts": 99')
    assert predlog.read(tmp_path).num_rows == table.num_rows
    window = predlog.read(tmp_path, since=1_490.0)
    assert window["id"].to_pylist() == [str(i) for i in range(490, 500)]
    # the last requests are found from the newest files alone
    newest = predlog.read(tmp_path, since=predlog.since_last(tmp_path, 7))
    assert 7 <= newest.num_rows < table.num_rows
    assert newest["id"].to_pylist()[-7:] == [str(i) for i in range(493, 500)]


def test_closed_log_files_are_compacted_to_parquet_and_read_the_same(tmp_path):
    from mlops_jupyter.serving import predlog

    log = predlog.PredictionLog(tmp_path, max_file_bytes=50_000)
    for i in range(3_000):
        inputs = {"x": [float(i), -1.5], "kind": ["a", None]}
        log.write({"id": f"r{i}", "ts": 1_000.0 + i, "status": 200, "inputs": inputs})
    before = predlog.read(tmp_path)
    writing = log.path
    made = predlog.compact_closed(tmp_path)  # what the rotations' compaction has not done yet
    log.close()
    kinds = [f.suffix for f in predlog.files(tmp_path)]
    assert kinds[-1] == ".jsonl" and set(kinds[:-1]) == {".parquet"}  # the open file stays
    assert writing.exists() and all(p.suffix == ".parquet" for p in made)
    after = predlog.read(tmp_path)
    assert after.num_rows == 3_000 and after["id"].to_pylist() == before["id"].to_pylist()
    assert after["inputs"].to_pylist() == before["inputs"].to_pylist()
    assert predlog.read(tmp_path, since=3_990.0)["id"].to_pylist() == [
        f"r{i}" for i in range(2990, 3000)
    ]
    # one column of the log, without the rest (the Parquet files read that column only)
    only = [t.column_names for t in predlog.tables_of(predlog.files(tmp_path), ["ts", "inputs.x"])]
    assert {tuple(names) for names in only} == {("ts", "inputs.x")}

    # a kill between writing the Parquet file and removing the JSON one: read once, not twice
    twin = predlog.files(tmp_path)[0]
    twin.with_suffix(".jsonl").write_bytes(b'{"id": "r0", "ts": 1000.0}\n')
    assert predlog.read(tmp_path).num_rows == 3_000
    assert predlog.compact(twin.with_suffix(".jsonl")) == twin  # and the leftover goes
    assert not twin.with_suffix(".jsonl").exists()


def test_a_window_read_a_column_at_a_time_survives_retention_and_compaction_meanwhile(tmp_path):
    """A reader that scanned the window reads each column later: files removed by retention
    or compacted in between give it the same records for every column (once a column came
    from a file gone by then, and the columns no longer lined up)."""
    from mlops_jupyter.monitoring.served import ServedColumns
    from mlops_jupyter.serving import predlog

    log = predlog.PredictionLog(tmp_path, max_file_bytes=20_000)
    for i in range(1_500):
        inputs = {"x": [float(i)], "y": [2.0 * i]}
        log.write({"id": f"r{i}", "ts": 1_000.0 + i, "status": 200, "inputs": inputs})
    predlog.compact_closed(tmp_path)
    log.rotate()  # the file written last is closed too: JSON lines until compacted
    log.close()
    served = ServedColumns.scan(tmp_path, None, None)
    rows = len(served)
    assert rows == 1_500
    for path in predlog.files(tmp_path)[:2]:
        path.unlink()  # retention, after the scan
    predlog.compact_closed(tmp_path)  # and the JSON file compacted
    x, y = served["x"], served["y"]
    assert len(x) == len(y) == rows and (y == 2 * x).all()
    frames = list(served.chunks(["x", "y"]))
    assert sum(len(f) for f in frames) == rows


def test_compaction_syncs_to_disk_when_the_log_does(tmp_path, monkeypatch):
    """With the log's fsync setting, a compacted file's Parquet twin and its name reach the
    disk before its JSON lines are removed (a power loss between must leave one of them)."""
    from mlops_jupyter.serving import predlog

    synced = []
    real = os.fsync

    def noting(fd):  # the real fsync, noting what it synced and whether the JSON was there
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))
        synced.append((where.name, any(tmp_path.glob("predictions-*.jsonl"))))
        real(fd)

    log = predlog.PredictionLog(tmp_path, fsync=True)
    log.write({"id": "a", "ts": 1.0, "status": 200, "outputs": [1]})
    log.close()
    monkeypatch.setattr(os, "fsync", noting)
    made = predlog.compact_closed(tmp_path, fsync=True)
    assert len(made) == 1 and not list(tmp_path.glob("predictions-*.jsonl"))
    assert (f".{made[0].name}.new", True) in synced  # the file, before the JSON went
    assert (tmp_path.name, True) in synced  # its name in the folder, before the JSON went


QUIET = """
import sys, time
from pathlib import Path
from mlops_jupyter.serving.predlog import PredictionLog
log = PredictionLog(Path(sys.argv[1]), max_file_bytes=2_000, max_total_bytes=20_000)
for i in range(int(sys.argv[3])):
    log.write({"id": f"{sys.argv[2]}-{i}", "ts": time.time(), "outputs": [i]})
    time.sleep(float(sys.argv[4]))
while len(sys.argv) > 5 and not Path(sys.argv[5]).exists():  # open until told
    time.sleep(0.05)
log.close()
"""


def test_two_workers_at_different_rates_under_rotation_lose_no_open_file(tmp_path):
    """A quiet worker's open file is never removed by a busy worker's retention."""
    done = tmp_path.parent / "busy-done"
    quiet, busy = (
        subprocess.Popen([sys.executable, "-c", QUIET, str(tmp_path), *args])
        for args in (("quiet", "30", "0.05", str(done)), ("busy", "6000", "0"))
    )  # the quiet one keeps its file open for as long as the busy one rotates
    assert busy.wait(timeout=120) == 0
    done.touch()
    assert quiet.wait(timeout=120) == 0
    ids = predlog.read(tmp_path)["id"].to_pylist()
    assert [i for i in ids if i.startswith("quiet")] == [f"quiet-{i}" for i in range(30)]
    assert "busy-5999" in ids  # the newest of the busy one kept
    assert sum(f.stat().st_size for f in predlog.files(tmp_path)) <= 20_000 + 2 * 2_100


def _text(path: Path) -> str:
    """A log file's text; empty when rotation moved it away meanwhile."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_the_server_log_rotates_at_its_size(tmp_path):
    from mlops_jupyter.serving.server import pump

    read_fd, write_fd = os.pipe()
    path = tmp_path / "serve.log"
    thread = threading.Thread(target=pump, args=(read_fd, path, 300))
    thread.start()
    for n in range(200):
        os.write(write_fd, f"line {n}\n".encode())
        if n % 50 == 49:  # in bursts, each read by the pump before the next
            last = f"line {n}\n"
            wait_for(lambda last=last: any(_text(f).endswith(last) for f in tmp_path.iterdir()))
    os.close(write_fd)
    thread.join(timeout=10)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["serve.log", "serve.log.1", "serve.log.2"]  # 2 kept
    assert all(f.stat().st_size < 300 + 500 for f in files)
    newest = path.read_text() or path.with_name("serve.log.1").read_text()  # just rotated?
    assert newest.endswith("line 199\n")


def test_a_failing_model_is_a_500_with_an_error_id_in_the_log(project):
    import mlflow

    class Fragile(mlflow.pyfunc.PythonModel):  # defined here: pickled by value
        def predict(self, context, model_input, params=None):
            if (model_input["x"] < 0).any():
                raise ValueError("negative input")
            return model_input["x"] * 2

    example = pd.DataFrame({"x": [1.0, 2.0]})
    with tracking.run(name="fragile") as run:
        tracking.log_model(Fragile(), input_example=example)
    tracking.register(run.id, "fragile", alias="champion")
    endpoint = serving.start("fragile@champion")
    try:
        ok = call(f"{endpoint.url}/invocations", b'{"inputs": {"x": [1.5]}}')
        assert ok[0] == 200 and ok[2] == {"predictions": [3.0]}
        status, _, answer = call(f"{endpoint.url}/invocations", b'{"inputs": {"x": [-1.0]}}')
        assert status == 500
        error_id = re.search(r"error id (\w+)", answer["message"]).group(1)
        server_log = endpoints.record_of(endpoint)["server_log"]
        wait_for(lambda: error_id in Path(server_log).read_text())  # the log's writer thread
        listed = subprocess.run(
            [sys.executable, "-m", "mlops_jupyter.cli", "serve", "status"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "fragile" in listed.stdout and endpoint.url in listed.stdout
    finally:
        serving.stop("fragile")


def test_tree_ensembles_are_compiled_only_when_they_agree():
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops_jupyter.serving.model import compile_trees

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 5))
    y = X[:, 0] * 3 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=300)
    for estimator in (
        HistGradientBoostingRegressor(max_iter=30),
        HistGradientBoostingRegressor(max_iter=30, loss="absolute_error"),
        RandomForestRegressor(n_estimators=10, random_state=0),
    ):
        estimator.fit(X, y)
        direct = compile_trees(estimator, 5)
        assert direct is not None, estimator
        np.testing.assert_allclose(direct(X), estimator.predict(X), rtol=1e-12, atol=1e-12)
        assert direct(X[:1]).shape == (1,)
    classifier = HistGradientBoostingClassifier(max_iter=10).fit(X, y > 0)
    assert compile_trees(classifier, 5) is None  # classes, not sums: sklearn predicts
    pipeline = make_pipeline(StandardScaler(), HistGradientBoostingRegressor()).fit(X, y)
    assert compile_trees(pipeline, 5) is None
