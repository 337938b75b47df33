"""Request and response formats: MLflow scoring, Open Inference Protocol v2, TF Serving REST.

Every parser turns a body into one :class:`Batch` (column names and the rows as columns), so
validation and prediction are written once. A client mistake raises :class:`BadRequest` with a
message naming the problem; the app answers it with a 4xx.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

OIP_TYPES = {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT8", "BOOL", "BYTES"}


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


def _loads(body: bytes) -> Any:
    import orjson

    if not body:
        raise BadRequest("the request body is empty; send JSON (or CSV with Content-Type text/csv)")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None


def _from_records(records: Any, what: str) -> Batch:
    if not isinstance(records, list) or not records:
        raise BadRequest(f"{what} must be a non-empty list of rows")
    first = records[0]
    if isinstance(first, dict):
        names = list(first)
        columns: list[list[Any]] = [[] for _ in names]
        for i, record in enumerate(records):
            if not isinstance(record, dict) or record.keys() != first.keys():
                raise BadRequest(f"{what}: row {i} does not have the same fields as row 0")
            for column, name in zip(columns, names, strict=True):
                column.append(record[name])
        return Batch(names, columns)
    raise BadRequest(f"{what}: rows must be objects of column: value (the model has named inputs)")


def _from_split(split: Any) -> Batch:
    if not isinstance(split, dict) or "columns" not in split or "data" not in split:
        raise BadRequest('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
    names, data = split["columns"], split["data"]
    if not isinstance(names, list) or not isinstance(data, list) or not data:
        raise BadRequest("dataframe_split: columns and data must be non-empty lists")
    width = len(names)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise BadRequest(f"dataframe_split: row {i} has not {width} values (one per column)")
    return Batch([str(n) for n in names], [list(c) for c in zip(*data, strict=True)])


def _from_columns(inputs: dict[str, Any], what: str) -> Batch:
    names = list(inputs)
    columns = [v if isinstance(v, list) else [v] for v in inputs.values()]
    if len({len(c) for c in columns}) > 1:
        raise BadRequest(f"{what}: every column must have the same number of values")
    return Batch(names, columns)


def parse_mlflow(body: bytes, content_type: str) -> tuple[Batch, str]:
    """MLflow's ``/invocations``: dataframe_split, dataframe_records, instances, inputs, CSV."""
    if content_type.startswith("text/csv"):
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
    if key == "dataframe_records":
        return _from_records(value, key), key
    if key == "instances":
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
    if not rows:
        raise BadRequest("the CSV has a header but no rows")
    if any(len(r) != len(names) for r in rows):
        raise BadRequest("a CSV row has not one value per header column")
    return Batch(names, [list(c) for c in zip(*rows, strict=True)])


def parse_oip(body: bytes) -> tuple[Batch, dict[str, Any]]:
    """Open Inference Protocol v2 ``infer``: one tensor per column, or one 2-D tensor."""
    payload = _loads(body)
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest('an infer request needs "inputs": a list of tensors')
    names, columns = [], []
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(tensor):
            raise BadRequest(f"inputs[{i}] needs name, shape, datatype and data")
        if tensor["datatype"] not in OIP_TYPES:
            raise BadRequest(f"inputs[{i}]: unknown datatype {tensor['datatype']!r}")
        data, shape = tensor["data"], tensor["shape"]
        flat = _flatten(data)
        expected = 1
        for dim in shape:
            expected *= dim if isinstance(dim, int) else -1
        if expected != len(flat):
            raise BadRequest(
                f"inputs[{i}] ({tensor['name']}): shape {shape} does not match {len(flat)} values"
            )
        if len(shape) == 2 and len(inputs) == 1:  # one matrix: columns named by the caller
            params = tensor.get("parameters") or {}
            width = shape[1]
            col_names = params.get("columns") or [f"{tensor['name']}_{j}" for j in range(width)]
            for j in range(width):
                names.append(str(col_names[j]))
                columns.append(flat[j::width])
            break
        if len(shape) > 1 and shape[-1] != 1:
            raise BadRequest(f"inputs[{i}] ({tensor['name']}): expected shape [n] or [n, 1]")
        names.append(str(tensor["name"]))
        columns.append(flat)
    if len({len(c) for c in columns}) > 1:
        raise BadRequest("every input tensor must have the same number of rows")
    return Batch(names, columns), payload


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [x for row in data for x in _flatten(row)]
    if not isinstance(data, list):
        raise BadRequest("tensor data must be a list")
    return data


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
