"""Every shape of model MLflow serves, served right: each column type of a signature, a bare
estimator, a Pipeline with a ColumnTransformer, a classifier logged with ``predict_proba`` and a
custom ``pyfunc``, over the three protocols. Each answer is compared with what
``mlflow.pyfunc.load_model(...).predict`` gives on the same rows, parsed as MLflow parses them."""

from __future__ import annotations

import base64
import json
import re
import urllib.request

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import call, module_project, send

from mlops_jupyter import monitoring, serving, tracking
from mlops_jupyter.monitoring import monitors

ROWS = 5


def _echo_model():
    """A custom model that answers with the types and values it was given."""
    import mlflow

    class EchoModel(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            kinds = ";".join(f"{c}:{model_input[c].dtype}" for c in model_input.columns)
            rows = model_input.itertuples(index=False)
            return [f"{kinds}|{','.join(map(str, row))}" for row in rows]

    return EchoModel()


def _frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 200
    homes = pd.DataFrame(
        {
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "rooms": rng.integers(1, 7, n),  # int64: long
            "floors": rng.integers(1, 4, n).astype("int32"),  # integer
            "area": rng.normal(80, 20, n),  # double
        }
    )
    loans = pd.DataFrame(
        {
            "income": rng.normal(3, 1, n).astype("float32"),  # float
            "debt": rng.normal(1, 0.5, n),
        }
    )
    return {"homes": homes, "loans": loans}


def _train(project) -> dict[str, tuple[str, pd.DataFrame]]:
    """The four models, registered; each one's name and the rows to send it."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frames = _frames()
    homes, loans = frames["homes"], frames["loans"]
    price = homes.rooms * 50 + homes.area * 2 + (homes.city == "Oslo") * 100
    models = {}
    with tracking.run(name="tree", project=project) as run:
        numeric = homes[["rooms", "floors", "area"]]
        model = HistGradientBoostingRegressor(max_iter=20).fit(numeric, price)
        tracking.log_model(model, input_example=numeric.head(3))
    tracking.register(run.id, "tree", project=project)
    models["tree"] = numeric.tail(ROWS)
    with tracking.run(name="pipeline", project=project) as run:
        encode = ColumnTransformer(
            [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
        )
        model = Pipeline([("encode", encode), ("fit", HistGradientBoostingRegressor(max_iter=20))])
        model.fit(homes, price)
        tracking.log_model(model, input_example=homes.head(3))
    tracking.register(run.id, "pipeline", project=project)
    models["pipeline"] = homes.tail(ROWS)
    with tracking.run(name="proba", project=project) as run:
        model = LogisticRegression().fit(loans, (loans.income > 3).astype(int))
        tracking.log_model(model, input_example=loans.head(3), pyfunc_predict_fn="predict_proba")
    tracking.register(run.id, "proba", project=project)
    models["proba"] = loans.tail(ROWS)
    schema = Schema(
        [ColSpec("integer", "i"), ColSpec("long", "l"), ColSpec("float", "f"),
         ColSpec("double", "d"), ColSpec("boolean", "b"), ColSpec("string", "s"),
         ColSpec("datetime", "t"), ColSpec("binary", "y"), ColSpec("double", "o", required=False)]
    )  # fmt: skip
    with tracking.run(name="echo", project=project) as run:
        mlflow.pyfunc.log_model(
            name="model", python_model=_echo_model(), signature=ModelSignature(inputs=schema)
        )
    tracking.register(run.id, "echo", project=project)
    with tracking.run(name="bare", project=project) as run:  # no signature: takes anything
        mlflow.pyfunc.log_model(name="model", python_model=_echo_model())
    tracking.register(run.id, "bare", project=project)
    models["bare"] = pd.DataFrame({"x": [1.0, 2.0], "t": ["a", "b"]})
    models["echo"] = pd.DataFrame(
        {
            "i": [1, 2, 3, 4, 5],
            "l": [2**40, -1, 0, 7, 9],
            "f": [0.5, 1.5, 2.0, -3.25, 0.0],
            "d": [1e-3, 2.5, 1e300, -7.0, 0.1],
            "b": [True, False, True, True, False],
            "s": ["a", "b", "é", "", "long text"],
            "t": [
                "2024-01-01T00:00:00",
                "2024-02-29",
                "2024-03-01T12:30:00",
                "2024-12-31",
                "2025-01-01T23:59:59",
            ],  # fmt: skip
            "y": [base64.b64encode(w.encode()).decode() for w in ("x", "yz", "", "bin", "\0")],
            "o": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    return models


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The four models served by four endpoints of one project (started once)."""
    with module_project(tmp_path_factory, "types") as root:
        rows = _train(root)
        endpoints = {name: serving.start(f"{name}/1", project=root) for name in rows}
        try:
            yield root, endpoints, rows
        finally:
            for name in endpoints:
                serving.stop(name, project=root)


def _expected(root, name: str, frame: pd.DataFrame) -> list:
    """What MLflow's own pyfunc predicts on ``frame``, parsed as its scoring server does."""
    import mlflow
    from mlflow.utils.proto_json_utils import dataframe_from_parsed_json

    from mlops_jupyter.tracking.store import tracking_uri
    from mlops_jupyter.workspace import Workspace

    mlflow.set_registry_uri(tracking_uri(Workspace.find(root)))
    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    if "t" in frame:  # MLflow reads one ISO 8601 form per column (the endpoint, any)
        frame = frame.assign(
            t=pd.to_datetime(frame.t, format="ISO8601").dt.strftime("%Y-%m-%dT%H:%M:%S")
        )
    split = json.loads(frame.to_json(orient="split", index=False))
    parsed = dataframe_from_parsed_json(split, "split", model.metadata.get_input_schema())
    predicted = model.predict(parsed)
    return predicted.tolist() if hasattr(predicted, "tolist") else list(predicted)


OIP_TYPES = {"int32": "INT32", "int64": "INT64", "float32": "FP32", "float64": "FP64",
             "bool": "BOOL"}  # fmt: skip


def _ask(url: str, name: str, protocol: str, frame: pd.DataFrame) -> list:
    """The predictions for ``frame`` sent in ``protocol``."""
    records = json.loads(frame.to_json(orient="records"))
    if protocol == "mlflow":
        split = json.loads(frame.to_json(orient="split", index=False))
        status, _, answer = call(
            url + "/invocations", json.dumps({"dataframe_split": split}).encode()
        )
        assert status == 200, answer
        return answer["predictions"]
    if protocol == "tfserving":
        body = json.dumps({"instances": records}).encode()
        status, _, answer = call(f"{url}/v1/models/{name}:predict", body)
        assert status == 200, answer
        return answer["predictions"]
    inputs = [
        {"name": c, "shape": [len(frame)], "datatype": OIP_TYPES.get(str(frame[c].dtype), "BYTES"),
         "data": [r[c] for r in records]}
        for c in frame
    ]  # fmt: skip
    status, _, answer = call(
        f"{url}/v2/models/{name}/infer", json.dumps({"inputs": inputs}).encode()
    )
    assert status == 200, answer
    (tensor,) = answer["outputs"]
    if len(tensor["shape"]) == 2:  # a matrix, flattened row-major
        width = tensor["shape"][1]
        return [tensor["data"][i : i + width] for i in range(0, len(tensor["data"]), width)]
    return tensor["data"]


@pytest.mark.parametrize("protocol", ["mlflow", "oip", "tfserving"])
@pytest.mark.parametrize("name", ["tree", "pipeline", "proba", "echo"])
def test_answers_equal_mlflows_own_predict(served, name, protocol):
    root, endpoints, rows = served
    answer = _ask(endpoints[name].url, name, protocol, rows[name])
    expected = _expected(root, name, rows[name])
    if name == "echo":
        assert answer == expected
        assert answer[0].startswith(
            "i:int32;l:int64;f:float32;d:float64;b:bool;s:str;t:datetime64[ns];y:object;o:float64|"
        )
    else:
        np.testing.assert_allclose(np.asarray(answer), np.asarray(expected), rtol=1e-9)


def test_an_optional_column_may_be_left_out_or_null(served):
    _, endpoints, rows = served
    frame = rows["echo"]
    answer = _ask(endpoints["echo"].url, "echo", "mlflow", frame.drop(columns="o"))
    assert answer[0].startswith("i:int32;l:int64;f:float32;d:float64;b:bool;s:str;t:datetime64")
    assert ";o:" not in answer[0]
    with_null = frame.astype({"o": object})
    with_null.loc[1, "o"] = None
    assert len(_ask(endpoints["echo"].url, "echo", "mlflow", with_null)) == ROWS


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("i", 2**31, "column 'i' row 2: 2147483648 is out of range for integer"),
        ("i", 1.5, "column 'i' expects integer (a whole number), got 1.5 (row 2)"),
        ("l", "seven", "column 'l' expects long, got str 'seven' (row 2)"),
        ("d", True, "column 'd' expects double, got bool True (row 2)"),
        ("b", "maybe", "column 'b' expects boolean, got str 'maybe' (row 2)"),
        ("s", 3, "column 's' expects string, got int 3 (row 2)"),
        ("t", "next week", "column 't' expects datetime (ISO 8601 text"),
        ("y", "not base64!", "column 'y' expects binary as base64 text, got 'not base64!' (row 2)"),
        ("s", None, "column 's' expects string, got NoneType None (row 2)"),  # required
    ],
)
def test_a_value_that_does_not_fit_is_a_422_naming_column_and_row(served, column, value, message):
    _, endpoints, rows = served
    frame = rows["echo"].astype({column: object})
    frame.loc[2, column] = value
    split = {"columns": list(frame), "data": frame.astype(object).values.tolist()}
    status, _, answer = call(
        endpoints["echo"].url + "/invocations", json.dumps({"dataframe_split": split}).encode()
    )
    assert (status, answer["message"][: len(message)]) == (422, message)


def test_concurrent_requests_share_calls_and_each_keeps_its_own_answer(served):
    """Two hundred one-row requests from 16 clients, every 25th with a city that is a number:
    each good one gets its own row's prediction, each bad one its own 422, and calls were
    shared (the batch-size histogram counts fewer calls than requests)."""
    from concurrent.futures import ThreadPoolExecutor

    root, endpoints, _ = served
    url = endpoints["pipeline"].url
    frame = _frames()["homes"]
    expected = _expected(root, "pipeline", frame)

    def one(i: int):
        row = frame.iloc[[i]].astype({"city": object})
        if i % 25 == 0:
            row.loc[row.index[0], "city"] = 5
        split = {"columns": list(row), "data": row.astype(object).values.tolist()}
        body = json.dumps({"dataframe_split": split}).encode()
        return call(url + "/invocations", body, headers={"X-Request-Id": f"row-{i}"})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(len(frame))))
    for i, (status, headers, answer) in enumerate(answers):
        assert headers["x-request-id"] == f"row-{i}"
        if i % 25 == 0:
            assert (status, answer["message"]) == (
                422, "column 'city' expects string, got int 5 (row 0)"
            )  # fmt: skip
        else:
            assert status == 200 and answer["predictions"] == pytest.approx([expected[i]])
    metrics = urllib.request.urlopen(url + "/metrics").read().decode()
    calls = _sample(metrics, "mlops_batch_requests_count")
    batched = _sample(metrics, "mlops_batch_requests_sum")
    assert batched >= 192 and calls < batched  # some calls predicted several requests
    assert "mlops_queue_seconds_bucket" in metrics
    calls_by_endpoint = serving.status(root).set_index("endpoint")["batching"]
    assert calls_by_endpoint["pipeline"] == "adaptive batches"
    assert calls_by_endpoint["tree"] == "compiled trees, adaptive batches"  # Treelite


def test_a_model_without_a_signature_is_monitored_whatever_types_it_was_sent(served, monkeypatch):
    """Such a model takes what it is sent: numbers in one request and text in the next, a
    column some requests leave out. Every read of its log (drift, the scorecard, the inputs
    served) must survive every record the endpoint accepted, compacted or not."""
    from mlops_jupyter.serving import predlog

    root, endpoints, _ = served
    url = endpoints["bare"].url
    for rows in ([{"x": 1.5, "t": 3}], [{"x": "high", "t": "late"}, {"x": 2.5, "t": "x"}],
                 [{"x": 4.0}], [{"x": True, "t": None}]):  # fmt: skip
        assert len(send(url, pd.DataFrame(rows))) == len(rows)
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0] * 10, "t": ["a", "b", "c"] * 10,
                              "never": [0.0] * 30})  # fmt: skip
    for compacted in (False, True):
        served_rows = monitoring.served_inputs("bare", None, project=root)
        assert len(served_rows) == 5 and list(served_rows.columns) == ["x", "t"]
        assert served_rows["x"].astype(str).tolist()[1] == "high"
        report = monitoring.drift("bare", window=None, reference=reference, project=root)
        assert {c.column for c in report.columns} == {"x", "t"}
        assert report.skipped == ["never"]
        card = monitoring.scorecard("bare", project=root)
        assert len(card.checks) == 7
        with monkeypatch.context() as lazy:  # a window larger than memory: a column at a time
            lazy.setattr("mlops_jupyter.monitoring.served.IN_MEMORY_BYTES", 0)
            again = monitoring.drift("bare", window=None, reference=reference, project=root)
            assert again.frame()["current_rows"].tolist() == report.frame()["current_rows"].tolist()
        if not compacted:
            folder = root / ".mlops" / "logs" / "predictions" / "bare"
            serving.stop("bare", project=root)  # its files closed: compacted as they are
            assert predlog.compact_closed(folder)
            assert not list(folder.glob("predictions-*.jsonl"))
            endpoints["bare"] = serving.start("bare/1", project=root)


def _sample(metrics: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(name))


def test_a_model_answering_lists_is_monitored_on_its_inputs(served):
    root, endpoints, _ = served
    loans = _frames()["loans"]
    for start in range(0, 60, 10):  # batch traffic: 10 rows a request, two probabilities a row
        answers = send(endpoints["proba"].url, loans.iloc[start : start + 10])
        assert len(answers) == 10 and all(len(a) == 2 for a in answers)
    report = monitoring.drift("proba", window=None, reference=loans, project=root)
    assert [c.column for c in report.columns] == ["income", "debt"]
    assert report.output is None  # lists of probabilities are no one prediction per row
    card = monitoring.scorecard("proba", project=root)
    stability = next(c for c in card.checks if c.monitor == "5 numerical stability")
    inputs, outputs = map(int, re.findall(r"\d+", stability.evidence))  # 2 of each a row
    assert stability.status == "pass" and inputs == outputs >= 120, stability.evidence
    # a NaN among a row's probabilities fails it, as among one-value outputs
    nested = pa.array([[[0.25, 0.75]], [[0.5, float("nan")], [1.0, 0.0]]])
    assert monitors.stability(loans.head(0), nested).evidence.startswith(
        "1 NaN or infinite outputs"
    )
    assert monitors.stability(loans.head(0), nested.to_pylist()).status == "fail"
