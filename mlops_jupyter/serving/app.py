"""The endpoint's ASGI app: three protocols, input validation, the prediction log, /metrics.

A plain ASGI callable (no framework on the hot path) served by uvicorn, one instance per worker
process. Routes:

- MLflow scoring: ``POST /invocations``, ``GET /ping``, ``GET /health``, ``GET /version``
- Open Inference Protocol v2: ``GET /v2/health/live``, ``/v2/health/ready``, ``/v2/models/{m}``,
  ``/v2/models/{m}/ready``, ``POST /v2/models/{m}/infer``
- TF Serving REST: ``GET /v1/models/{m}``, ``POST /v1/models/{m}:predict``
- ``GET /metrics`` (Prometheus), ``GET /openapi.json``

Client mistakes are 4xx with a JSON body naming the problem; a failure inside the model is a 500
carrying an error id that the server log shows.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from ..errors import first_line
from . import openapi, protocols
from .batcher import Batcher
from .guard import Guard
from .model import ServedModel
from .predlog import PredictionLog
from .protocols import BadRequest, Batch

log = logging.getLogger("mlops_jupyter.serving")
RECORD_ENV = "MLOPS_JUPYTER_ENDPOINT"
CHECK_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 300.0
OPEN = {"/ping", "/health", "/v2/health/live", "/v2/health/ready"}
REQUEST_ID = re.compile(r"[!-~]{1,64}")
PROBE_HEADER = b"x-mlops-probe"  # monitoring's own requests carry the endpoint's probe key


class Endpoint:
    """State of one worker: the model, the log, the metrics, and what the record asks for."""

    def __init__(self, record_path: Path):
        self.record_path = record_path
        self.record = json.loads(record_path.read_text())
        self.max_body = int(self.record.get("max_body_bytes", 10 * 1024 * 1024))
        token = self.record.get("token")
        self.auth = f"Bearer {token}".encode() if token else None
        self.probe_key = str(self.record.get("probe_key", "")).encode()
        self.guard = Guard(self.record)
        self.model: ServedModel = _load(self.record)
        self.log = (
            PredictionLog(Path(self.record["log_dir"]), fsync=bool(self.record.get("fsync")))
            if self.record.get("log", True)
            else None
        )
        self.metrics = _Metrics(self.record["name"])
        self.metrics.version(self.model)
        self.batcher = Batcher(int(self.record.get("max_batch_rows", 256)), self.metrics.batch)
        self.generation = self.record.get("generation", 0)
        self._next_check = time.monotonic() + CHECK_SECONDS
        self._checking = False
        self._failures = 0

    # -- reloads: a new generation in the record, or the alias moved in the registry --------
    def maybe_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_check or self._checking:
            return
        self._next_check = now + CHECK_SECONDS
        self._checking = True
        threading.Thread(target=self._check, daemon=True).start()

    def _check(self) -> None:
        try:
            record = json.loads(self.record_path.read_text())
            generation = record.get("generation", 0)
            wanted = _wanted_version(record)
            if generation != self.generation or (wanted and wanted != self.model.version):
                if wanted:
                    record = {
                        **record,
                        "version": wanted,
                        "uri": f"models:/{record['model']}/{wanted}",
                    }
                model = _load(record)  # loaded aside; requests keep using the old one meanwhile
                self.model, self.generation = model, generation
                self.metrics.version(model)
                log.warning("now serving %s version %s", model.name, model.version)
            self._failures = 0
        except Exception as exc:  # noqa: BLE001 - a failed reload keeps the current model serving
            # Back off (2 s, 4 s, ... 5 min): a reload that keeps failing must not flood the log.
            self._failures += 1
            delay = min(CHECK_SECONDS * 2**self._failures, MAX_BACKOFF_SECONDS)
            self._next_check = time.monotonic() + delay
            log.error(
                "reload failed (%s: %s); still serving version %s; next try in %.0f s",
                type(exc).__name__, first_line(exc, 200), self.model.version, delay,
                exc_info=self._failures == 1,  # the traceback once per streak of failures
            )  # fmt: skip
        finally:
            self._checking = False


def _wanted_version(record: dict[str, Any]) -> str | None:
    """The version the endpoint's alias points at now (None when it serves a fixed version)."""
    if not record.get("alias"):
        return None
    from mlflow import MlflowClient

    client = MlflowClient(record["tracking_uri"], registry_uri=record["tracking_uri"])
    return str(client.get_model_version_by_alias(record["model"], record["alias"]).version)


def _load(record: dict[str, Any]) -> ServedModel:
    import mlflow

    from . import model

    mlflow.set_tracking_uri(record["tracking_uri"])
    mlflow.set_registry_uri(record["tracking_uri"])
    return model.load(record["uri"], record["model"], str(record["version"]), record.get("run_id"))


class _Metrics:
    """Prometheus metrics shared by the workers (prometheus_client's multiprocess mode)."""

    def __init__(self, endpoint: str):
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "mlops_requests", "Requests answered", ["endpoint", "protocol", "status"]
        )
        self.errors = Counter(
            "mlops_request_errors", "Requests answered with an error", ["endpoint", "kind"]
        )
        self.latency = Histogram(
            "mlops_request_latency_seconds",
            "Time from request to response",
            ["endpoint"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.rows = Counter("mlops_predicted_rows", "Rows predicted", ["endpoint"])
        self.batch_requests = Histogram(
            "mlops_batch_requests", "Requests predicted in one call", ["endpoint"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        )  # fmt: skip
        self.queue_time = Histogram(
            "mlops_queue_seconds", "Time a request waited for its prediction call", ["endpoint"],
            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
        )  # fmt: skip
        self.model_version = Gauge(
            "mlops_model_version", "Model version served", ["endpoint", "model"],
            multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.endpoint = endpoint
        self._latency = self.latency.labels(endpoint)
        self._rows = self.rows.labels(endpoint)
        self._by_status: dict[tuple[str, int], Any] = {}

    def batch(self, waits: list[float]) -> None:
        """One prediction call: how many requests it served, how long each waited for it."""
        self.batch_requests.labels(self.endpoint).observe(len(waits))
        queue_time = self.queue_time.labels(self.endpoint)
        for seconds in waits:
            queue_time.observe(seconds)

    def version(self, model: ServedModel) -> None:
        number = float(model.version) if model.version.isdigit() else 0.0
        self.model_version.labels(self.endpoint, model.name).set(number)

    def observe(self, protocol: str, status: int, seconds: float, rows: int) -> None:
        key = (protocol, status)
        counter = self._by_status.get(key)
        if counter is None:
            counter = self._by_status[key] = self.requests.labels(
                self.endpoint, protocol, str(status)
            )
        counter.inc()
        self._latency.observe(seconds)
        if rows:
            self._rows.inc(rows)
        if status >= 400:
            self.errors.labels(self.endpoint, "client" if status < 500 else "server").inc()


async def _body(receive: Any, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the request body is over {limit:,} bytes; send fewer rows", 413)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _header(scope: dict[str, Any], name: bytes) -> str:
    """A header's value as text (latin-1: any bytes a client sends decode)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _request_id(scope: dict[str, Any]) -> tuple[str, str | None]:
    """The client's ``X-Request-Id`` if it is one we can log and echo, else a new id (and why)."""
    given = _header(scope, b"x-request-id")
    if not given:
        return uuid.uuid4().hex, None
    if REQUEST_ID.fullmatch(given):
        return given, None
    return uuid.uuid4().hex, "X-Request-Id must be 1 to 64 visible ASCII characters (no spaces)"


class App:
    """The ASGI callable."""

    def __init__(self, record_path: Path):
        self.record_path = record_path
        self.endpoint: Endpoint | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        endpoint = self.endpoint
        assert endpoint is not None
        request_id, bad_id = _request_id(scope)
        answer = _Answer(request_id)
        route = _route(scope["method"], scope["path"])
        if route is not None and route[0] != "get":
            answer.protocol = route[0]  # a prediction, logged whatever becomes of it
        try:
            if bad_id:
                raise BadRequest(bad_id)
            answer.cors = endpoint.guard.check(scope)
            await self._handle(scope, receive, endpoint, answer, route)
        except BadRequest as exc:
            answer.fail(exc.status, str(exc), endpoint)
        except Exception as exc:  # noqa: BLE001 - our fault: a 500 the log explains, never a crash
            error_id = uuid.uuid4().hex[:12]
            log.exception("error id %s: request %s failed", error_id, request_id)
            answer.fail(500, f"internal error (error id {error_id}: {type(exc).__name__}); "
                        "the server log has the details", endpoint)  # fmt: skip
        elapsed = time.perf_counter() - started
        if answer.record is not None and endpoint.log is not None:
            answer.record["latency_ms"] = round(elapsed * 1000, 3)
            try:
                endpoint.log.write(answer.record)  # before the response: an answer is logged
            except OSError as exc:
                log.error("the prediction log could not be written: %s", exc)
                answer.fail(503, f"the prediction log could not be written ({exc.strerror}); "
                            "the server's disk needs attention", endpoint)  # fmt: skip
        if answer.protocol != "other" or answer.status >= 400:  # not health checks
            endpoint.metrics.observe(answer.protocol, answer.status, elapsed, answer.rows)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers()}
        )
        await send({"type": "http.response.body", "body": answer.payload})
        endpoint.maybe_reload()

    async def _handle(
        self,
        scope: dict[str, Any],
        receive: Any,
        endpoint: Endpoint,
        answer: _Answer,
        route: tuple[str, str | None] | None,
    ) -> None:
        path, method = scope["path"], scope["method"]
        if endpoint.auth and path not in OPEN:
            given = _header(scope, b"authorization").encode("latin-1")
            if not hmac.compare_digest(given, endpoint.auth):
                raise BadRequest("missing or wrong token: send Authorization: Bearer <token>", 401)
        if method == "OPTIONS":  # a browser's preflight: allowed origins got their headers
            answer.status = 204
            return
        if route is None:
            raise BadRequest(f"no route {method} {path}; see /openapi.json", 404)
        kind, model_name = route
        if kind == "get":
            answer.payload, answer.content_type = _get(path, endpoint)
            return
        if model_name is not None and model_name != endpoint.record["name"]:
            raise BadRequest(
                f"no model {model_name!r} here; this endpoint serves {endpoint.record['name']!r}",
                404,
            )
        media = protocols.media_type(_header(scope, b"content-type"))
        if kind != "mlflow" and media != "application/json":
            raise BadRequest(f"{path} takes application/json", 415)
        body = await _body(receive, endpoint.max_body)
        model = endpoint.model
        batch, echo = _parse(kind, body, media)
        names, columns = model.check(batch)
        answer.rows = batch.rows
        try:
            outputs = await endpoint.batcher.predict(model, names, columns, batch.rows)
        except Exception as exc:  # noqa: BLE001 - the model failed, not the client
            refused = _refusal(exc)
            if refused:
                raise BadRequest(f"the model refused the input: {refused}", 422) from None
            error_id = uuid.uuid4().hex[:12]
            log.exception("error id %s: the model failed on request %s", error_id, answer.id)
            raise BadRequest(
                f"the model failed (error id {error_id}: {type(exc).__name__}); "
                "the server log has the details",
                500,
            ) from None
        answer.payload = _respond(kind, outputs, endpoint, answer.id, echo)
        answer.record = {
            "id": answer.id,
            "ts": time.time(),
            "model": model.name,
            "version": model.version,
            "protocol": kind,
            "status": 200,
            "latency_ms": 0.0,
            "inputs": dict(zip(names, columns, strict=True)),
            "outputs": outputs,
        }
        if endpoint.probe_key and hmac.compare_digest(
            _header(scope, PROBE_HEADER).encode("latin-1"), endpoint.probe_key
        ):
            answer.record["probe"] = True  # monitoring's own request: not traffic

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.endpoint = Endpoint(self.record_path)
                except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which exits
                    log.exception("the endpoint could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.endpoint is not None and self.endpoint.log is not None:
                    self.endpoint.log.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _refusal(exc: Exception) -> str | None:
    """The first line of MLflow's own input check when that is what failed (a client mistake)."""
    if type(exc).__name__ == "MlflowException" and getattr(exc, "error_code", "") in (
        "INVALID_PARAMETER_VALUE",
        "BAD_REQUEST",
    ):
        return first_line(getattr(exc, "message", None) or exc)
    return None


class _Answer:
    """What one request is answered, and what the log keeps of it."""

    def __init__(self, request_id: str):
        self.id = request_id
        self.status = 200
        self.payload = b""
        self.content_type = b"application/json"
        self.protocol = "other"
        self.rows = 0
        self.record: dict[str, Any] | None = None
        self.cors: list[tuple[bytes, bytes]] = []

    def fail(self, status: int, message: str, endpoint: Endpoint) -> None:
        self.status = status
        self.content_type = b"application/json"
        self.payload = orjson.dumps(
            {"error_code": _code(status), "message": message, "request_id": self.id}
        )
        self.record = None
        if self.protocol != "other":  # a refused prediction is logged too (without its inputs)
            self.record = {
                "id": self.id,
                "ts": time.time(),
                "model": endpoint.model.name,
                "version": endpoint.model.version,
                "protocol": self.protocol,
                "status": status,
                "latency_ms": 0.0,
                "error": message,
            }

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", self.content_type),
            (b"x-request-id", self.id.encode()),
            *self.cors,
        ]


def _code(status: int) -> str:
    return {
        400: "BAD_REQUEST",
        401: "UNAUTHENTICATED",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        503: "TEMPORARILY_UNAVAILABLE",
        403: "FORBIDDEN",
        413: "REQUEST_TOO_LARGE",
        415: "UNSUPPORTED_MEDIA_TYPE",
        422: "INVALID_PARAMETER_VALUE",
    }.get(status, "INTERNAL_ERROR")


def _route(method: str, path: str) -> tuple[str, str | None] | None:
    if method == "POST":
        if path == "/invocations":
            return "mlflow", None
        if path.startswith("/v2/models/") and path.endswith("/infer"):
            parts = path.split("/")
            return ("oip", parts[3]) if len(parts) in (5, 7) else None
        if path.startswith("/v1/models/") and path.endswith(":predict"):
            return "tfserving", path[len("/v1/models/") : -len(":predict")].split("/")[0]
        return None
    if method == "GET":
        return "get", None
    return None


def _get(path: str, endpoint: Endpoint) -> tuple[bytes, bytes]:
    model = endpoint.model
    name = endpoint.record["name"]
    if path in ("/ping", "/health", "/v2/health/live", "/v2/health/ready"):
        return b"{}", b"application/json"
    if path == "/version":
        answer = {"model": model.name, "version": model.version, "batching": _batching(model)}
        answer["instance"] = endpoint.record.get("instance")
        return orjson.dumps(answer), b"application/json"
    if path == "/metrics":
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST.encode()
    if path == "/openapi.json":
        return orjson.dumps(openapi.document(name, model)), b"application/json"
    if path == "/v2":
        return orjson.dumps(
            {"name": "mlops-jupyter", "version": "0.1.0", "extensions": []}
        ), b"application/json"
    if path in (f"/v2/models/{name}", f"/v2/models/{name}/versions/{model.version}"):
        return orjson.dumps(openapi.oip_metadata(name, model)), b"application/json"
    if path in (f"/v2/models/{name}/ready", f"/v2/models/{name}/versions/{model.version}/ready"):
        return b"{}", b"application/json"
    if path == f"/v1/models/{name}":
        status = {"version": model.version, "state": "AVAILABLE", "status": {"error_code": "OK"}}
        return orjson.dumps({"model_version_status": [status]}), b"application/json"
    raise BadRequest(f"no route GET {path}; see /openapi.json", 404)


def _batching(model: ServedModel) -> str:
    """How the worker calls the model, as ``%serve status`` shows it."""
    if model.direct is not None:
        return "compiled linear, one call per request"
    if model.batchable:
        return "adaptive batches"
    return "one call per request (its batch predictions differ, or it has no input example)"


def _parse(kind: str, body: bytes, media: str) -> tuple[Batch, Any]:
    if kind == "mlflow":
        return protocols.parse_mlflow(body, media)
    if kind == "oip":
        return protocols.parse_oip(body)
    return protocols.parse_tfserving(body)


def _respond(
    kind: str, outputs: list[Any], endpoint: Endpoint, request_id: str, echo: Any
) -> bytes:
    if kind == "mlflow":
        return orjson.dumps({"predictions": outputs})
    if kind == "tfserving":
        key = "predictions" if echo == "instances" else "outputs"
        return orjson.dumps({key: outputs})
    return orjson.dumps(
        {
            "model_name": endpoint.record["name"],
            "model_version": endpoint.model.version,
            "id": echo.get("id", request_id) if isinstance(echo, dict) else request_id,
            "outputs": protocols.oip_outputs(outputs),
        }
    )


def create_app() -> App:
    """The app for the endpoint whose record ``MLOPS_JUPYTER_ENDPOINT`` names (uvicorn factory)."""
    return App(Path(os.environ[RECORD_ENV]))
