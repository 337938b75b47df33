"""Every request an endpoint gets is answered by the endpoint itself: JSON with a message and
the request id, 4xx for what the client sent, logged and counted. Property-based: Hypothesis
strategies for the protocol parsers, Schemathesis against the endpoint's own /openapi.json."""

from __future__ import annotations

import http.client
import json
import math
import re
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from helpers import FEATURES, call, serve_classifier, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mlops_jupyter import serving
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.serving import endpoints, predlog, protocols
from mlops_jupyter.serving.model import ServedModel
from mlops_jupyter.serving.protocols import BadRequest

ALLOWED = "http://notebook.example:8888"
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One endpoint on a LogisticRegression of four numeric features, shared by the module;
    the page at ``ALLOWED`` may call it from a browser."""
    root = tmp_path_factory.mktemp("bad") / "project"
    endpoint, _ = serve_classifier(root, settings=f'serve_allow_origins = "{ALLOWED}"\n')
    yield endpoint, root
    serving.stop(endpoint.name, project=root)


# -- the parsers, alone: anything a client sends parses or is a 4xx ------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
envelopes = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={k: json_values for k in ("dataframe_split", "dataframe_records", "instances", "inputs", "params")}),
    st.fixed_dictionaries({"dataframe_split": st.fixed_dictionaries({"columns": json_values, "data": json_values})}),
    st.fixed_dictionaries({"inputs": st.lists(st.fixed_dictionaries(
        {"name": json_values, "shape": json_values, "datatype": st.sampled_from(["FP64", "BYTES"]) | json_values, "data": json_values},
        optional={"parameters": json_values}), max_size=3)}),
)  # fmt: skip
MODEL = ServedModel(
    "m", "1", "models:/m/1", None, ["x", "n", "s"], ["double", "long", "string"], None
)


def parsed_or_refused(parse, *args):
    try:
        batch = parse(*args)[0]
    except BadRequest as exc:
        assert 400 <= exc.status < 500 and str(exc)
        return None
    assert batch.names and len(set(batch.names)) == len(batch.names)
    assert all(isinstance(n, str) for n in batch.names)
    assert len({len(c) for c in batch.columns}) == 1 and batch.rows >= 1
    return batch


@EXAMPLES
@given(envelopes)
def test_every_json_body_parses_or_is_a_client_error(payload):
    body = json.dumps(payload).encode()
    for parse, args in [
        (protocols.parse_mlflow, (body, "application/json")),
        (protocols.parse_oip, (body,)),
        (protocols.parse_tfserving, (body,)),
    ]:
        batch = parsed_or_refused(parse, *args)
        if batch is None:
            continue
        try:
            _, columns = MODEL.check(batch)
        except BadRequest as exc:
            assert exc.status == 422
            continue
        assert all(math.isfinite(v) for v in columns[0]) and all(type(v) is int for v in columns[1])


@EXAMPLES
@given(st.binary(max_size=200), st.sampled_from(["application/json", "text/csv"]))
def test_any_bytes_parse_or_are_a_client_error(body, content_type):
    parsed_or_refused(protocols.parse_mlflow, body, content_type)
    parsed_or_refused(protocols.parse_oip, body)


@EXAMPLES
@given(st.lists(st.sampled_from(["nan", "inf", "-Infinity", "1" * 400, "1e999", "2.5", "x", ""]), min_size=1, max_size=5))  # fmt: skip
def test_non_finite_text_is_refused_naming_column_and_row(values):
    csv = "x,n,s\n" + "".join(f"{v},1,a\n" for v in values)
    batch = protocols.parse_mlflow(csv.encode(), "text/csv")[0]
    bad = [i for i, v in enumerate(values) if v != "2.5"]
    if not bad:
        assert MODEL.check(batch)[1][0] == [2.5] * len(values)
        return
    with pytest.raises(BadRequest, match=rf"column 'x'.* \(?row {bad[0]}\)?") as refused:
        MODEL.check(batch)
    assert refused.value.status == 422


# -- the endpoint: Schemathesis against its own document ---------------------------------------
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_endpoint_keeps_to_its_openapi_document(served, mode):
    """Data that fits the document and data that does not: never a 5xx, every answer as
    documented (status, content type, schema)."""
    from schemathesis.generation import GenerationMode

    endpoint, _ = served
    api = schemathesis.openapi.from_url(endpoint.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 12  # every route but /openapi.json, which Schemathesis skips
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]  # fmt: skip
    strategy = st.one_of([op.as_strategy(GenerationMode(mode)) for op in operations])

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def conforms(case):
        case.call_and_validate(checks=checks)

    conforms()


# -- the endpoint: what escaped the app before -------------------------------------------------
def raw(endpoint, path: str, body: bytes, headers: dict[str, bytes]):
    """A request with exactly these header bytes (urllib would refuse some of them)."""
    host, port = endpoint.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", path, skip_accept_encoding=True)
    for name, value in {"Content-Length": str(len(body)).encode(), **headers}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    answer = response.status, response.getheader("content-type"), json.loads(response.read())
    connection.close()
    return answer


ROW = {"dataframe_split": {"columns": FEATURES, "data": [[0.1, 0.2, 0.3, 0.4]]}}
NESTED = b'{"inputs": [{"name": "f0", "shape": [1], "datatype": "FP64", "data": ' + b"[" * 1000 + b"1" + b"]" * 1000 + b"}]}"  # fmt: skip
TENSORS = [{"name": c, "shape": [1], "datatype": "FP64", "data": [0.5]} for c in FEATURES]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [
        ("/invocations", ROW, {"X-Request-Id": b"\xff\xfe-id"}, 400, "X-Request-Id must be"),
        ("/invocations", ROW, {"Content-Type": b"application/\xffjson"}, 415, "send application/json"),
        ("/invocations", ROW, {"Content-Type": b"text/plain"}, 415, "Content-Type 'text/plain'"),
        ("/v2/models/clf/infer", b"f0,f1,f2,f3\n1,2,3,4\n", {"Content-Type": b"text/csv"}, 415, "/v2/models/clf/infer takes application/json"),
        ("/invocations", ROW, {"Content-Type": b"application/x-www-form-urlencoded"}, 415, "curl -H"),
        ("/v2/models/clf/infer", {"inputs": [{**TENSORS[0], "datatype": ["FP64"]}]}, {}, 400, "unknown datatype ['FP64']"),
        ("/v2/models/clf/infer", {"inputs": [{**TENSORS[0], "shape": 1}]}, {}, 400, "shape must be [n] or [n, m]"),
        ("/v2/models/clf/infer", {"inputs": [{"name": "m", "shape": [1, 4], "datatype": "FP64", "data": [[1, 2, 3, 4]], "parameters": {"columns": ["f0", "f1"]}}]}, {}, 400, "parameters.columns must name its 4 columns"),
        ("/v2/models/clf/infer", NESTED, {}, 400, "data is nested over 8 deep"),
        ("/v2/models/clf/infer", b'{"inputs": [{"name": "f0", "shape": [1], "datatype": "FP64", "data": ' + b"[" * 20 + b"1" + b"]" * 20 + b"}]}", {}, 400, "nested over 8 deep"),
        ("/invocations", b"f0,f1,f2,f3\n1,2,nan,4\n", {"Content-Type": b"text/csv"}, 422, "column 'f2' row 0: 'nan' is not a finite number"),
        ("/invocations", b"f0,f1,f2,f3\n1,2,3,4\n1,inf,3,4\n", {"Content-Type": b"text/csv"}, 422, "column 'f1' row 1: 'inf'"),
        ("/invocations", {"dataframe_records": [dict.fromkeys(FEATURES, "1" * 400)]}, {}, 422, "column 'f0' row 0: '111"),
        ("/v1/models/clf:predict", {"instances": [dict.fromkeys(FEATURES, "-Infinity")]}, {}, 422, "is not a finite number"),
        ("/invocations", {"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, [4]]]}}, {}, 422, "column 'f3' expects double, got list"),
    ],
)  # fmt: skip
def test_what_escaped_before_is_a_json_client_error(served, path, body, headers, status, message):
    endpoint, root = served
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    code, content_type, answer = raw(
        endpoint, path, data, {"Content-Type": b"application/json", **headers}
    )
    assert (code, content_type) == (status, "application/json"), answer
    assert message in answer["message"] and re.fullmatch(r"[0-9a-f]{32}", answer["request_id"])
    logged = serving.logs("clf", 1000, project=root).set_index("id")
    assert logged.loc[answer["request_id"], "status"] == status  # logged, not lost


@EXAMPLES
@given(
    request_id=st.binary(max_size=80),
    content_type=st.binary(max_size=40),
    body=st.binary(max_size=100) | st.builds(lambda v: json.dumps(v).encode(), envelopes),
    path=st.sampled_from(["/invocations", "/v2/models/clf/infer", "/v1/models/clf:predict"]),
)
def test_no_header_or_body_makes_a_server_error(served, request_id, content_type, body, path):
    endpoint, _ = served
    headers = {"X-Request-Id": request_id.replace(b"\r", b"").replace(b"\n", b"")}
    headers["Content-Type"] = content_type.replace(b"\r", b"").replace(b"\n", b"")
    status, kind, answer = raw(endpoint, path, body, headers)
    assert status < 500 and kind == "application/json"
    assert set(answer) >= ({"message", "request_id"} if status >= 400 else set())


def requests_counted(url: str) -> float:
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    return sum(float(n) for n in re.findall(r"^mlops_requests_total\{.*\} (\S+)$", text, re.M))


def test_every_answer_is_counted_in_metrics(served):
    endpoint, _ = served
    before = requests_counted(endpoint.url)
    bad = [b"{", b'{"inputs": [{"name": "f0", "datatype": [1], "shape": 1, "data": 2}]}', b"[]"]
    for body in bad:
        assert call(endpoint.url + "/v2/models/clf/infer", body)[0] == 400
    assert call(endpoint.url + "/nowhere")[0] == 404
    assert call(endpoint.url + "/invocations", json.dumps(ROW).encode())[0] == 200
    assert requests_counted(endpoint.url) - before == 5


def test_a_client_id_cannot_hide_traffic_only_the_probe_key_does(served):
    endpoint, root = served
    body = json.dumps(ROW).encode()
    assert call(endpoint.url + "/invocations", body, headers={"X-Request-Id": "mlops-probe-1"})[0] == 200  # fmt: skip
    wrong = {"X-Request-Id": "wrong-key", "X-Mlops-Probe": "guess"}
    assert call(endpoint.url + "/invocations", body, headers=wrong)[0] == 200
    serving.predict("clf", [dict(zip(FEATURES, [0.1] * 4, strict=True))], project=root,
                    request_id="real-probe", probe=True)  # fmt: skip
    folder = Path(endpoints.record_of(endpoint)["log_dir"])
    traffic = set(predlog.read(folder)["id"].to_pylist())
    assert {"mlops-probe-1", "wrong-key"} <= traffic and "real-probe" not in traffic
    assert "real-probe" in set(predlog.read(folder, probes=True)["id"].to_pylist())


# -- web pages: the Host, Origin and Content-Type checks ----------------------------------------
def test_a_web_page_cannot_post_predictions_or_rebind_dns(served):
    endpoint, root = served
    body = json.dumps(ROW).encode()
    port = endpoint.url.rsplit(":", 1)[1]
    refused = [
        ({"Content-Type": b"text/plain"}, 415),  # a form or fetch() with no preflight
        ({"Content-Type": b"application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": b"multipart/form-data; boundary=x"}, 415),
        ({"Origin": b"http://evil.example"}, 403),  # a page of another site
        ({"Origin": b"null"}, 403),  # a sandboxed frame or a file:// page
        ({"Host": f"evil.example:{port}".encode()}, 403),  # DNS rebinding
        # a name that only looks like a loopback address, with the page's own Origin
        (
            {
                "Host": f"127.evil.example:{port}".encode(),
                "Origin": f"http://127.evil.example:{port}".encode(),
            },
            403,
        ),
        ({"Host": f"127.0.0.1.nip.example:{port}".encode()}, 403),
    ]
    for headers, status in refused:
        code, _, answer = raw(
            endpoint, "/invocations", body, {"Content-Type": b"application/json", **headers}
        )
        assert code == status, (headers, answer)
        assert answer["request_id"]
    log = serving.logs("clf", 10_000, project=root)
    assert "inputs" not in log.columns or log[log["status"] != 200]["inputs"].isna().all()

    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):  # this machine's names: served
        code, _, _ = raw(
            endpoint,
            "/invocations",
            body,
            {"Content-Type": b"application/json; charset=utf-8", "Host": host.encode()},
        )
        assert code == 200
    same_origin = {"Origin": endpoint.url.encode(), "Content-Type": b"application/json"}
    assert raw(endpoint, "/invocations", body, same_origin)[0] == 200


def test_an_allowed_origin_gets_cors_headers_and_its_preflight(served):
    endpoint, _ = served
    preflight = urllib.request.Request(
        endpoint.url + "/invocations", method="OPTIONS",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )  # fmt: skip
    with urllib.request.urlopen(preflight) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    status, headers, answer = call(
        endpoint.url + "/invocations", json.dumps(ROW).encode(), headers={"Origin": ALLOWED}
    )
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED
    assert len(answer["predictions"]) == 1


def test_the_record_is_private_and_the_token_never_on_a_command_line(served):
    endpoint, _ = served
    assert endpoint.record.stat().st_mode & 0o777 == 0o600
    assert not [p for p in endpoint.record.parent.iterdir() if p.name != endpoint.record.name]
    key = endpoints.record_of(endpoint)["probe_key"]
    assert key not in Path(f"/proc/{endpoint.pid}/cmdline").read_bytes().decode()
    with pytest.raises(MlopsError, match="another server took port"):
        endpoints._check_instance({**endpoints.record_of(endpoint), "instance": "not-ours"})


def test_a_reload_that_keeps_failing_backs_off_with_one_traceback(served):
    endpoint, _ = served
    record = endpoint.record.read_text()
    log = Path(endpoints.record_of(endpoint)["server_log"])
    endpoint.record.write_text("{ broken")  # every reload check now fails
    try:
        body = json.dumps(ROW).encode()

        def failures():
            call(endpoint.url + "/invocations", body)  # each answer may start a check
            return re.findall(r"reload failed .*next try in (\d+) s", log.read_text())

        delays = wait_for(lambda: len(failures()) >= 2 and failures(), timeout=30)
    finally:
        endpoint.record.write_text(record)
    assert [int(d) for d in delays[:2]] == [4, 8]  # 2 s, then doubling: no flood
    assert log.read_text().count("Traceback") == 1  # the details once, then one line each


def test_none_of_the_requests_above_was_a_server_error(served):
    """Runs last in this module (tests of a module stay together, in order): what /metrics
    counted over every request the tests above sent."""
    endpoint, _ = served
    text = urllib.request.urlopen(endpoint.url + "/metrics").read().decode()
    statuses: dict[str, float] = {}
    for status, count in re.findall(
        r'^mlops_requests_total\{.*status="(\d+)"\} (\S+)$', text, re.M
    ):
        statuses[status] = statuses.get(status, 0) + float(count)
    print(f"requests by status: {dict(sorted(statuses.items()))}")  # for the record (-s)
    assert not [s for s in statuses if s.startswith("5")]
