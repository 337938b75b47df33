"""The endpoint described: an OpenAPI document, and Open Inference Protocol model metadata.

The document describes every route with its request and response schemas (taken from the
model's signature), precise enough for Schemathesis to test the endpoint against it.
"""

from __future__ import annotations

from typing import Any

from .model import ServedModel

OIP = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL"}
JSON_TYPES = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
}
CLIENT_ERRORS = {
    "400": "the request is malformed",
    "401": "the endpoint needs its token",
    "403": "refused: another web page's request, or a Host that is not this endpoint's",
    "404": "no such route or model",
    "413": "the body is too large",
    "415": "the content type is not JSON (or CSV on /invocations)",
    "422": "the rows do not fit the model's signature",
}


def oip_metadata(name: str, model: ServedModel) -> dict[str, Any]:
    return {
        "name": name,
        "versions": [model.version],
        "platform": "mlflow",
        "inputs": [
            {"name": n, "datatype": OIP.get(t, "BYTES"), "shape": [-1]}
            for n, t in zip(model.input_names, model.input_types, strict=True)
        ],
        "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(summary: str, body: dict[str, Any] | None, ok: dict[str, Any]) -> dict[str, Any]:
    error = {
        "type": "object",
        "properties": {
            "error_code": {"type": "string"},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
        },
        "required": ["error_code", "message", "request_id"],
    }
    request_id = {"X-Request-Id": {"description": "the request's id", "schema": {"type": "string"}}}
    responses: dict[str, Any] = {
        "200": {"description": "the answer", "headers": request_id, "content": ok}
    }
    statuses = dict(CLIENT_ERRORS)
    if body is not None:
        statuses["500"] = "the model failed; the error id is in the server log"
        statuses["503"] = "the prediction log could not be written"
    for status, text in statuses.items():
        responses[status] = {"description": text, "headers": request_id, "content": _json(error)}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    return operation


def document(name: str, model: ServedModel) -> dict[str, Any]:
    """OpenAPI 3.1 for every route, the row schema taken from the signature."""
    names, types = model.input_names, model.input_types
    value = {"type": ["number", "string", "boolean", "null"]}
    columns = {
        n: {"type": [JSON_TYPES.get(t, "string"), "null"] if n in model.optional else
            JSON_TYPES.get(t, "string")}
        for n, t in zip(names, types, strict=True)
    }  # fmt: skip
    row: dict[str, Any] = {"type": "object"}
    if names:
        row.update(properties=columns, required=model.required, additionalProperties=False)
    rows = {"type": "array", "items": row, "minItems": 1}
    split = {
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "data": {"type": "array", "minItems": 1, "items": {"type": "array", "items": value}},
        },
        "required": ["columns", "data"],
    }
    by_column = {"type": "object", "minProperties": 1}
    if names:
        by_column.update(
            properties={
                n: {"type": "array", "items": s, "minItems": 1} for n, s in columns.items()
            },
            required=model.required,
            additionalProperties=False,
        )
    mlflow_body = {
        **_json(
            {
                "oneOf": [
                    _one("dataframe_split", split),
                    _one("dataframe_records", rows),
                    _one("instances", rows),
                    _one("inputs", by_column),
                ]
            }
        ),
        "text/csv": {"schema": {"type": "string"}},
    }
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"enum": sorted(set(OIP.values()) | {"BYTES"})},
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
        "required": ["name", "shape", "datatype", "data"],
    }
    predictions = {"type": "array"}
    output = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "data": {"type": "array"},
        },
        "required": ["name", "shape", "datatype", "data"],
    }
    oip_answer = {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": output},
        },
        "required": ["model_name", "model_version", "outputs"],
    }
    empty = _json({"type": "object"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{name} ({model.name} version {model.version})",
            "version": model.version,
        },
        "paths": {
            "/invocations": {
                "post": _operation(
                    "MLflow scoring protocol",
                    mlflow_body,
                    _json(_one("predictions", predictions)),
                )
            },
            f"/v2/models/{name}/infer": {
                "post": _operation(
                    "Open Inference Protocol v2 (KServe, MLServer)",
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "inputs": {"type": "array", "items": tensor, "minItems": 1},
                            },
                            "required": ["inputs"],
                        }
                    ),
                    _json(oip_answer),
                )
            },
            f"/v1/models/{name}:predict": {
                "post": _operation(
                    "TensorFlow Serving REST predict",
                    _json({"oneOf": [_one("instances", rows), _one("inputs", by_column)]}),
                    _json(
                        {
                            "type": "object",
                            "properties": {"predictions": predictions, "outputs": predictions},
                        }
                    ),
                )
            },
            "/ping": {"get": _operation("liveness (MLflow)", None, empty)},
            "/health": {"get": _operation("liveness", None, empty)},
            "/version": {
                "get": _operation(
                    "the model version served",
                    None,
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "model": {"type": "string"},
                                "version": {"type": "string"},
                            },
                            "required": ["model", "version"],
                        }
                    ),
                )
            },
            "/metrics": {
                "get": _operation(
                    "Prometheus metrics", None, {"text/plain": {"schema": {"type": "string"}}}
                )
            },
            "/openapi.json": {"get": _operation("this document", None, empty)},
            "/v2/health/live": {"get": _operation("liveness (OIP v2)", None, empty)},
            "/v2/health/ready": {"get": _operation("readiness (OIP v2)", None, empty)},
            f"/v2/models/{name}": {"get": _operation("model metadata (OIP v2)", None, empty)},
            f"/v2/models/{name}/ready": {"get": _operation("model readiness", None, empty)},
            f"/v1/models/{name}": {"get": _operation("model status (TF Serving)", None, empty)},
        },
    }


def _one(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly one property, ``key``."""
    return {
        "type": "object",
        "properties": {key: schema},
        "required": [key],
        "additionalProperties": False,
    }
