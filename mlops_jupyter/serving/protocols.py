"""Request and response formats: MLflow scoring, Open Inference Protocol v2, TF Serving REST.

Every parser turns a body into one :class:`Batch` (column names and the rows as columns), so
validation and prediction are written once. Parsers trust nothing in the body: any shape a
client can send either parses or raises :class:`BadRequest` with a message naming the problem,
which the app answers with a 4xx.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OIP_TYPES = {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT8", "BOOL", "BYTES"}
MAX_DEPTH = 8  # tensor data nested deeper than this is no table
CONTENT_TYPES = ("application/json", "text/csv")


class BadRequest(Exception):
    """The request is wrong; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Batch:
    """Rows of named columns: ``columns[i]`` holds the values of ``names[i]``."""

    names: list[str]
    columns: list[list[Any]]

    @property
    def rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def id_text(value: Any) -> str:
    """An id as text: ``9001`` whether it came as 9001 or 9001.0 (JSON and pandas turn whole
    numbers into floats beside float columns)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def media_type(content_type: str) -> str:
    """``application/json`` of ``Application/JSON; charset=utf-8``; 415 for anything else.

    Only JSON and CSV are accepted: a web page can POST form data or text/plain to a local
    server without asking first (no CORS preflight), never JSON.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        shown = f"Content-Type {media!r}" if media else "no Content-Type"
        raise BadRequest(
            f"{shown}: send application/json (or text/csv), e.g. "
            "curl -H 'Content-Type: application/json'",
            415,
        )
    return media


def _loads(body: bytes) -> Any:
    import orjson

    if not body:
        raise BadRequest("the request body is empty; send JSON (or CSV with Content-Type text/csv)")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


def _names(names: Any, what: str) -> list[str]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadRequest(f"{what} must be a non-empty list of column names (strings)")
    if len(set(names)) != len(names):
        raise BadRequest(f"{what} names a column twice")
    return names


def _from_records(records: Any, what: str) -> Batch:
    if not isinstance(records, list) or not records:
        raise BadRequest(f"{what} must be a non-empty list of rows")
    first = records[0]
    if not isinstance(first, dict):
        raise BadRequest(
            f"{what}: rows must be objects of column: value (the model has named inputs)"
        )
    names = _names(list(first), f"{what}: row 0")
    columns: list[list[Any]] = [[] for _ in names]
    for i, record in enumerate(records):
        if not isinstance(record, dict) or record.keys() != first.keys():
            raise BadRequest(f"{what}: row {i} does not have the same fields as row 0")
        for column, name in zip(columns, names, strict=True):
            column.append(record[name])
    return Batch(names, columns)


def _from_split(split: Any) -> Batch:
    if not isinstance(split, dict) or "columns" not in split or "data" not in split:
        raise BadRequest('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
    names = _names(split["columns"], "dataframe_split: columns")
    data = split["data"]
    if not isinstance(data, list) or not data:
        raise BadRequest("dataframe_split: data must be a non-empty list of rows")
    width = len(names)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise BadRequest(f"dataframe_split: row {i} has not {width} values (one per column)")
    return Batch(names, [list(c) for c in zip(*data, strict=True)])


def _from_columns(inputs: Any, what: str) -> Batch:
    if not isinstance(inputs, dict) or not inputs:
        raise BadRequest(f"{what} must be an object of column: values")
    names = list(inputs)
    columns = [v if isinstance(v, list) else [v] for v in inputs.values()]
    if len({len(c) for c in columns}) > 1:
        raise BadRequest(f"{what}: every column must have the same number of values")
    if not columns[0]:
        raise BadRequest(f"{what}: the columns hold no values")
    return Batch(names, columns)


def parse_mlflow(body: bytes, content_type: str) -> tuple[Batch, str]:
    """MLflow's ``/invocations``: dataframe_split, dataframe_records, instances, inputs, CSV."""
    if media_type(content_type) == "text/csv":
        return _from_csv(body), "csv"
    payload = _loads(body)
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k != "params"}  # inference params: unused
    if not isinstance(payload, dict) or len(payload) != 1:
        raise BadRequest(
            "send one of dataframe_split, dataframe_records, instances or inputs "
            "(MLflow's scoring format)"
        )
    key, value = next(iter(payload.items()))
    if key == "dataframe_split":
        return _from_split(value), key
    if key in ("dataframe_records", "instances"):
        return _from_records(value, key), key
    if key == "inputs":
        if isinstance(value, dict):
            return _from_columns(value, key), key
        return _from_records(value, key), key
    raise BadRequest(
        f"unknown field {key!r}; send dataframe_split, dataframe_records, instances or inputs"
    )


def _from_csv(body: bytes) -> Batch:
    try:
        reader = csv.reader(io.StringIO(body.decode("utf-8")))
        names = next(reader)
        rows = [r for r in reader if r]
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise BadRequest(f"malformed CSV: {exc or 'no header row'}") from None
    _names(names, "the CSV header")
    if not rows:
        raise BadRequest("the CSV has a header but no rows")
    for i, row in enumerate(rows):
        if len(row) != len(names):
            raise BadRequest(f"CSV row {i} has {len(row)} values for {len(names)} header columns")
    return Batch(names, [list(c) for c in zip(*rows, strict=True)])


def parse_oip(body: bytes) -> tuple[Batch, dict[str, Any]]:
    """Open Inference Protocol v2 ``infer``: one tensor per column, or one 2-D tensor."""
    payload = _loads(body)
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest('an infer request needs "inputs": a list of tensors')
    names, columns = [], []
    for i, tensor in enumerate(inputs):
        name, shape, flat = _tensor(tensor, i)
        if len(shape) == 2 and len(inputs) == 1:  # one matrix: columns named by the caller
            width = shape[1]
            params = tensor.get("parameters")
            given = params.get("columns") if isinstance(params, dict) else None
            if given is None:
                given = [f"{name}_{j}" for j in range(width)]
            elif not isinstance(given, list) or len(given) != width:
                raise BadRequest(
                    f"inputs[{i}] ({name}): parameters.columns must name its {width} columns"
                )
            names = _names(given, f"inputs[{i}] ({name}): parameters.columns")
            columns = [flat[j::width] for j in range(width)]
            break
        if len(shape) > 1 and (len(shape) != 2 or shape[1] != 1):
            raise BadRequest(f"inputs[{i}] ({name}): expected shape [n] or [n, 1]")
        names.append(name)
        columns.append(flat)
    if len(set(names)) != len(names):
        raise BadRequest("two input tensors have the same name")
    if len({len(c) for c in columns}) > 1:
        raise BadRequest("every input tensor must have the same number of rows")
    if not columns or not columns[0]:
        raise BadRequest("the input tensors hold no rows")
    return Batch(names, columns), payload


def _tensor(tensor: Any, i: int) -> tuple[str, list[int], list[Any]]:
    """Name, shape and flat data of ``inputs[i]``, each checked."""
    if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(tensor):
        raise BadRequest(f"inputs[{i}] needs name, shape, datatype and data")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str) or not name:
        raise BadRequest(f"inputs[{i}]: name must be a non-empty string")
    if not isinstance(datatype, str) or datatype not in OIP_TYPES:
        raise BadRequest(
            f"inputs[{i}] ({name}): unknown datatype {datatype!r}; one of "
            + ", ".join(sorted(OIP_TYPES))
        )
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequest(f"inputs[{i}] ({name}): shape must be [n] or [n, m] (whole numbers)")
    flat = _flatten(tensor["data"], f"inputs[{i}] ({name})")
    expected = shape[0] * (shape[1] if len(shape) == 2 else 1)
    if expected != len(flat):
        raise BadRequest(f"inputs[{i}] ({name}): shape {shape} does not match {len(flat)} values")
    return name, shape, flat


def _flatten(data: Any, what: str) -> list[Any]:
    """Row-major values of nested lists (without recursion: depth is the client's choice)."""
    if not isinstance(data, list):
        raise BadRequest(f"{what}: data must be a list")
    flat: list[Any] = []
    stack = [(iter(data), 1)]
    while stack:
        items, depth = stack[-1]
        for item in items:
            if isinstance(item, list):
                if depth >= MAX_DEPTH:
                    raise BadRequest(f"{what}: data is nested over {MAX_DEPTH} deep")
                stack.append((iter(item), depth + 1))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def parse_tfserving(body: bytes) -> tuple[Batch, str]:
    """TF Serving's REST predict: ``instances`` (rows) or ``inputs`` (columns)."""
    payload = _loads(body)
    if isinstance(payload, dict) and "instances" in payload:
        return _from_records(payload["instances"], "instances"), "instances"
    if isinstance(payload, dict) and isinstance(payload.get("inputs"), dict):
        return _from_columns(payload["inputs"], "inputs"), "inputs"
    raise BadRequest('send {"instances": [...]} (rows) or {"inputs": {...}} (columns)')


def oip_datatype(values: list[Any]) -> str:
    first = values[0] if values else 0.0
    if isinstance(first, bool):
        return "BOOL"
    if isinstance(first, int):
        return "INT64"
    if isinstance(first, float):
        return "FP64"
    return "BYTES"


def oip_outputs(outputs: list[Any]) -> list[dict[str, Any]]:
    """Predictions as OIP v2 output tensors: one per column of a table's records, a matrix
    (``predict_proba``) flattened row-major with its shape, or one vector."""
    if outputs and all(isinstance(o, dict) for o in outputs):
        columns = {key: [o.get(key) for o in outputs] for key in outputs[0]}
        return [_vector(str(key), values) for key, values in columns.items()]
    if (
        outputs
        and all(isinstance(o, list) for o in outputs)
        and len({len(o) for o in outputs}) == 1
    ):
        flat = [v for o in outputs for v in o]
        tensor = _vector("predict", flat)
        tensor["shape"] = [len(outputs), len(outputs[0])]
        return [tensor]
    return [_vector("predict", outputs)]


def _vector(name: str, values: list[Any]) -> dict[str, Any]:
    return {"name": name, "shape": [len(values)], "datatype": oip_datatype(values), "data": values}


# -- the registry: where each protocol is posted, how its body parses, how it is answered ------
@dataclass(frozen=True)
class Protocol:
    """One way to ask for predictions.

    ``route(path)`` is None when the path is not this protocol's, else the model the path names
    ("" when it names none); ``answer(outputs, endpoint, version, request_id, echo)`` is the body.
    """

    name: str
    route: Callable[[str], str | None]
    parse: Callable[[bytes, str], tuple[Batch, Any]]
    answer: Callable[[list[Any], str, str, str, Any], bytes]
    json_only: bool = True


def _mlflow_route(path: str) -> str | None:
    return "" if path == "/invocations" else None


def _oip_route(path: str) -> str | None:
    if not (path.startswith("/v2/models/") and path.endswith("/infer")):
        return None
    parts = path.split("/")  # /v2/models/M/infer or /v2/models/M/versions/V/infer
    return parts[3] if len(parts) in (5, 7) else None


def _tfserving_route(path: str) -> str | None:
    if not (path.startswith("/v1/models/") and path.endswith(":predict")):
        return None
    return path[len("/v1/models/") : -len(":predict")].split("/")[0]


def _mlflow_answer(outputs: list[Any], endpoint: str, version: str, rid: str, echo: Any) -> bytes:
    import orjson

    return orjson.dumps({"predictions": outputs})


def _oip_answer(outputs: list[Any], endpoint: str, version: str, rid: str, echo: Any) -> bytes:
    import orjson

    return orjson.dumps(
        {
            "model_name": endpoint,
            "model_version": version,
            "id": echo.get("id", rid) if isinstance(echo, dict) else rid,
            "outputs": oip_outputs(outputs),
        }
    )


def _tfserving_answer(
    outputs: list[Any], endpoint: str, version: str, rid: str, echo: Any
) -> bytes:
    import orjson

    return orjson.dumps({"predictions" if echo == "instances" else "outputs": outputs})


PROTOCOLS = (
    Protocol("mlflow", _mlflow_route, parse_mlflow, _mlflow_answer, json_only=False),
    Protocol("oip", _oip_route, lambda body, media: parse_oip(body), _oip_answer),
    Protocol(
        "tfserving", _tfserving_route, lambda body, media: parse_tfserving(body), _tfserving_answer
    ),
)


def route(path: str) -> tuple[Protocol, str | None] | None:
    """The protocol a prediction's path belongs to and the model it names; None: no such route."""
    for protocol in PROTOCOLS:
        model = protocol.route(path)
        if model is not None:
            return protocol, model or None
    return None
