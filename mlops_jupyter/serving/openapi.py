"""The endpoint described: an OpenAPI document, and Open Inference Protocol model metadata."""

from __future__ import annotations

from typing import Any

from .model import ServedModel

OIP = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL"}
JSON_TYPES = {"double": "number", "float": "number", "long": "integer", "integer": "integer"}


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


def document(name: str, model: ServedModel) -> dict[str, Any]:
    """OpenAPI 3.1 for the three predict routes, the row schema taken from the signature."""
    row = {
        "type": "object",
        "properties": {
            n: {"type": JSON_TYPES.get(t, "string")}
            for n, t in zip(model.input_names, model.input_types, strict=True)
        },
        "required": model.input_names,
    }
    error = {"description": "a client mistake, named in message"}
    predict = {
        "responses": {
            "200": {"description": "predictions"},
            "400": error,
            "413": error,
            "422": error,
            "500": {"description": "the model failed; the error id is in the server log"},
        }
    }
    records = {"type": "array", "items": row}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{name} ({model.name} version {model.version})",
            "version": model.version,
        },
        "paths": {
            "/invocations": {
                "post": {
                    "summary": "MLflow scoring protocol",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"properties": {"dataframe_records": records}},
                                        {"properties": {"dataframe_split": {"type": "object"}}},
                                        {"properties": {"instances": records}},
                                        {"properties": {"inputs": {"type": "object"}}},
                                    ]
                                }
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        }
                    },
                    **predict,
                }
            },
            f"/v2/models/{name}/infer": {
                "post": {"summary": "Open Inference Protocol v2 (KServe, MLServer)", **predict}
            },
            f"/v1/models/{name}:predict": {
                "post": {"summary": "TensorFlow Serving REST predict", **predict}
            },
            "/metrics": {"get": {"summary": "Prometheus metrics"}},
            "/v2/health/ready": {"get": {"summary": "readiness"}},
        },
    }
