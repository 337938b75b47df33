"""The endpoint's ASGI app: three protocols, input validation, the prediction log, /metrics.

A plain ASGI callable (no framework on the hot path) served by uvicorn, one instance per worker
process. Routes:

- MLflow scoring: ``POST /invocations``, ``GET /ping``, ``GET /health``, ``GET /version``
- Open Inference Protocol v2: ``GET /v2/health/live``, ``/v2/health/ready``, ``/v2/models/{m}``,
  ``/v2/models/{m}/ready``, ``POST /v2/models/{m}/infer``
- TF Serving REST: ``GET /v1/models/{m}``, ``POST /v1/models/{m}:predict``
- ``GET /metrics`` (Prometheus), ``GET /openapi.json``

Client mistakes are 4xx with a JSON body naming the problem; a failure inside the model is a 500
carrying an error id that the server log shows. Every prediction request leaves one log record
(built in ``_Answer.record``), written before its answer is sent; during a trial it names the
variant that answered, and a shadow challenger's answer is a record of its own (``shadow``).
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import logging
import os
import random
import re
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import first_line
from . import openapi, protocols
from .batcher import MAX_ROWS, Batcher, QueueFull
from .guard import Guard
from .model import ServedModel
from .predlog import PredictionLog
from .protocols import BadRequest, Batch, id_text

log = logging.getLogger("mlops_jupyter.serving")
RECORD_ENV = "MLOPS_JUPYTER_ENDPOINT"
CHECK_SECONDS = 2.0
# A trial's challenger is dropped (one line in the server log; the champion answers all) when
# one prediction takes longer than this, or when it falls this far behind the traffic.
CHALLENGER_SECONDS = 2.0
MAX_SHADOWS = 256  # shadow predictions in flight at most
MAX_BACKOFF_SECONDS = 300.0
OPEN = {"/ping", "/health", "/v2/health/live", "/v2/health/ready"}
REQUEST_ID = re.compile(r"[!-~]{1,64}")
PROBE_HEADER = b"x-mlops-probe"  # monitoring's own requests carry the endpoint's probe key


class Worker:
    """State of one worker process: the models, the log, the metrics, what the record asks for.

    During a trial the record names a challenger beside the champion: it answers ``split``
    percent of the requests (by a hash of the ``sticky`` header when one is named, so a user
    stays with one model), or with ``shadow`` it predicts every request after the champion
    has answered, and its answer is only logged.
    """

    def __init__(self, record_path: Path):
        self.record_path = record_path
        self.record = json.loads(record_path.read_text())
        self.max_body = int(self.record.get("max_body_bytes", 10 * 1024 * 1024))
        token = self.record.get("token")
        self.auth = f"Bearer {token}".encode() if token else None
        self.probe_key = str(self.record.get("probe_key", "")).encode()
        self.guard = Guard(self.record)
        self.model: ServedModel = _load(self.record)
        self.challenger: ServedModel | None = None
        self.trial = Trial.of(self.record)
        if self.trial is not None:
            self.challenger = _load(_challenger_record(self.record))
        self.log = (
            PredictionLog(Path(self.record["log_dir"]), fsync=bool(self.record.get("fsync")))
            if self.record.get("log", True)
            else None
        )
        self.metrics = _Metrics(self.record["name"])
        self.metrics.version(self.model)
        self.batcher = Batcher(
            MAX_ROWS if self.record.get("batching", True) else 0, self.metrics.batch
        )
        self.trial_batcher = self._challenger_batcher()  # its own thread: never the champion's
        self.challenger_seconds = float(self.record.get("challenger_timeout", CHALLENGER_SECONDS))
        self.shadows: set[asyncio.Task[None]] = set()
        self.dropped: int | None = None  # the record generation whose challenger was dropped
        self.generation = self.record.get("generation", 0)
        self._next_check = time.monotonic() + CHECK_SECONDS
        self._checking = False
        self._failures = 0

    def _challenger_batcher(self) -> Batcher:
        return Batcher(
            MAX_ROWS if self.record.get("batching", True) else 0,
            self.metrics.batch,
            name="challenger",
        )

    def drop_challenger(self, reason: str) -> None:
        """End this worker's trial (until the record changes): the champion answers all."""
        challenger = self.challenger
        if challenger is None:
            return
        self.challenger, self.trial, self.dropped = None, None, self.generation
        self.trial_batcher = self._challenger_batcher()  # the old thread may be stuck in it
        log.warning(
            "challenger %s version %s dropped from the trial: %s; the champion answers every "
            "request (start the trial again with `%%serve trial`)",
            challenger.name, challenger.version, reason,
        )  # fmt: skip

    def shadow(self, answer: _Answer) -> None:
        """Predict a shadow in the background: the request is answered and its connection free."""
        if len(self.shadows) >= MAX_SHADOWS:
            self.drop_challenger(f"{MAX_SHADOWS} shadow predictions are behind the traffic")
            return
        task = asyncio.get_running_loop().create_task(_shadow(self, answer))
        self.shadows.add(task)
        task.add_done_callback(self.shadows.discard)

    def pick(self, scope: dict[str, Any]) -> tuple[ServedModel, str | None]:
        """The model that answers this request, and its part in a trial (None: no trial)."""
        trial, challenger = self.trial, self.challenger
        if trial is None or challenger is None:
            return self.model, None
        if trial.shadow or not trial.split:
            return self.model, "champion"
        key = _header(scope, trial.sticky) if trial.sticky else ""
        share = zlib.crc32(key.encode("latin-1")) % 10_000 / 100 if key else random.random() * 100
        return (challenger, "challenger") if share < trial.split else (self.model, "champion")

    # -- reloads: a new generation in the record, or an alias moved in the registry ----------
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
            fresh = generation != self.generation  # a reload asked for, or a trial changed
            model = _current(record, self.model, fresh)
            trial = Trial.of(record)
            if not fresh and self.dropped == generation:
                trial = None  # dropped as too slow: back only when the trial is started again
            challenger = None
            if trial is not None:
                challenger = _current(_challenger_record(record), self.challenger, fresh)
            if model is not self.model or challenger is not self.challenger or fresh:
                # loaded aside; requests kept using the old models meanwhile
                self.model, self.challenger, self.trial = model, challenger, trial
                self.generation = generation
                self.metrics.version(model)
                settle_heap(again=True)  # the old models' cycles collected, once
                also = f"; challenger version {challenger.version}" if challenger else ""
                log.warning("now serving %s version %s%s", model.name, model.version, also)
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


@dataclass(frozen=True)
class Trial:
    """A challenger's share of the traffic: ``split`` percent, or a ``shadow`` of all of it."""

    split: float
    shadow: bool
    sticky: bytes | None  # the header whose value keeps a client with one model

    @staticmethod
    def of(record: dict[str, Any]) -> Trial | None:
        if not record.get("challenger"):
            return None
        sticky = record.get("sticky")
        return Trial(
            float(record.get("split") or 0),
            bool(record.get("shadow")),
            sticky.lower().encode() if sticky else None,
        )


def settle_heap(again: bool = False) -> None:
    """Keep the garbage collector off what was loaded to serve (MLflow, sklearn, the models).

    A full collection walks every object: ~70 ms with MLflow and sklearn imported, a pause every
    request waiting at that moment pays (it was the p99 of batched models under load). Frozen,
    those objects are left out of every collection; requests' garbage is collected as before.
    ``again`` (after a reload): unfreeze, collect the old models' cycles once, freeze again.
    """
    if again:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def _challenger_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the challenger's: its model, version, alias and run."""
    return {**record, **record["challenger"]}


def _current(record: dict[str, Any], loaded: ServedModel | None, fresh: bool) -> ServedModel:
    """``loaded`` if it is still what ``record`` serves, else the model it serves now."""
    wanted = _wanted_version(record)
    if wanted:
        uri = f"models:/{record['model']}/{wanted}"
        record = {**record, "version": wanted, "uri": uri, "location": None}
    if loaded is not None and not fresh and str(record["version"]) == loaded.version:
        return loaded
    return _load(record)


def _wanted_version(record: dict[str, Any]) -> str | None:
    """The version the endpoint's alias points at now (None when it serves a fixed version)."""
    if not record.get("alias"):
        return None
    from ..tracking.store import embedded_alias

    version = embedded_alias(record["tracking_uri"], record["model"], record["alias"])
    if version is not None:
        return version
    from mlflow import MlflowClient

    client = MlflowClient(record["tracking_uri"], registry_uri=record["tracking_uri"])
    return str(client.get_model_version_by_alias(record["model"], record["alias"]).version)


def _load(record: dict[str, Any]) -> ServedModel:
    import mlflow

    from . import model

    mlflow.set_tracking_uri(record["tracking_uri"])
    mlflow.set_registry_uri(record["tracking_uri"])
    uri = record.get("location") or record["uri"]  # the files, found when the endpoint started
    return model.load(uri, record["model"], str(record["version"]), record.get("run_id"))


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
        self.worker: Worker | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        worker = self.worker
        assert worker is not None
        request_id, bad_id = _request_id(scope)
        answer = _Answer(request_id, worker.model)
        found = protocols.route(scope["path"]) if scope["method"] == "POST" else None
        if found is not None:
            answer.protocol = found[0].name  # a prediction, logged whatever becomes of it
        try:
            if bad_id:
                raise BadRequest(bad_id)
            answer.cors = worker.guard.check(scope)
            await self._handle(scope, receive, worker, answer, found)
        except BadRequest as exc:
            answer.fail(exc.status, str(exc))
        except Exception as exc:  # noqa: BLE001 - our fault: a 500 the log explains, never a crash
            error_id = uuid.uuid4().hex[:12]
            log.exception("error id %s: request %s failed", error_id, request_id)
            answer.fail(500, f"internal error (error id {error_id}: {type(exc).__name__}); "
                        "the server log has the details")  # fmt: skip
        elapsed = time.perf_counter() - started
        record = answer.record(elapsed)
        if record is not None and worker.log is not None:
            try:
                worker.log.write(record)  # before the response: an answer is logged
            except OSError as exc:
                log.error("the prediction log could not be written: %s", exc)
                answer.fail(503, f"the prediction log could not be written ({exc.strerror}); "
                            "the server's disk needs attention")  # fmt: skip
        if answer.protocol != "other" or answer.status >= 400:  # not health checks
            worker.metrics.observe(answer.protocol, answer.status, elapsed, answer.rows)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers()}
        )
        await send({"type": "http.response.body", "body": answer.payload})
        if answer.shadow is not None and answer.status == 200:
            worker.shadow(answer)
        worker.maybe_reload()

    async def _handle(
        self,
        scope: dict[str, Any],
        receive: Any,
        worker: Worker,
        answer: _Answer,
        found: tuple[protocols.Protocol, str | None] | None,
    ) -> None:
        path, method = scope["path"], scope["method"]
        if worker.auth and path not in OPEN:
            given = _header(scope, b"authorization").encode("latin-1")
            if not hmac.compare_digest(given, worker.auth):
                raise BadRequest("missing or wrong token: send Authorization: Bearer <token>", 401)
        if method == "OPTIONS":  # a browser's preflight: allowed origins got their headers
            answer.status = 204
            return
        if method == "GET":
            answer.payload, answer.content_type = _get(path, worker)
            return
        if found is None:
            raise BadRequest(f"no route {method} {path}; see /openapi.json", 404)
        protocol, model_name = found
        name = worker.record["name"]
        if model_name is not None and model_name != name:
            raise BadRequest(f"no model {model_name!r} here; this endpoint serves {name!r}", 404)
        media = protocols.media_type(_header(scope, b"content-type"))
        if protocol.json_only and media != "application/json":
            raise BadRequest(f"{path} takes application/json", 415)
        body = await _body(receive, worker.max_body)
        model, answer.variant = worker.pick(scope)
        answer.model = model
        batch, echo = protocol.parse(body, media)
        id_column = worker.record.get("id_column")
        if id_column:
            batch, answer.row_ids = _row_ids(batch, id_column, model)
        names, columns = model.check(batch)
        answer.rows = batch.rows
        try:
            outputs = await _predict(worker, model, names, columns, batch.rows, answer.id)
        except TooSlow:  # the challenger was dropped: the champion answers this one too
            model, answer.variant = worker.model, "champion"
            answer.model = model
            names, columns = model.check(batch)
            outputs = await _predict(worker, model, names, columns, batch.rows, answer.id)
        answer.payload = protocol.answer(outputs, name, model.version, answer.id, echo)
        answer.inputs, answer.outputs = dict(zip(names, columns, strict=True)), outputs
        if worker.probe_key and hmac.compare_digest(
            _header(scope, PROBE_HEADER).encode("latin-1"), worker.probe_key
        ):
            answer.probe = True  # monitoring's own request: not traffic
        elif worker.trial is not None and worker.trial.shadow:
            answer.shadow = batch

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.worker = Worker(self.record_path)
                except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which exits
                    log.exception("the endpoint could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                settle_heap()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.worker is not None and self.worker.log is not None:
                    self.worker.log.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _predict(
    worker: Worker,
    model: ServedModel,
    names: list[str],
    columns: list[list[Any]],
    rows: int,
    request_id: str,
) -> list[Any]:
    """The model's answer; its own input check refusing is a 422, any other failure a 500; a
    full queue a 503. The challenger's answer comes from its own thread within
    ``challenger_seconds``, or it is dropped from the trial (:class:`TooSlow`)."""
    try:
        if model is worker.challenger:
            return await _challenge(worker, model, names, columns, rows)
        return await worker.batcher.predict(model, names, columns, rows)
    except TooSlow:
        raise
    except QueueFull as exc:
        raise BadRequest(f"the endpoint is busy ({exc}); try again in a second", 503) from None
    except Exception as exc:  # noqa: BLE001 - the model failed, not the client
        refused = _refusal(exc)
        if refused:
            raise BadRequest(f"the model refused the input: {refused}", 422) from None
        error_id = uuid.uuid4().hex[:12]
        log.exception("error id %s: the model failed on request %s", error_id, request_id)
        raise BadRequest(
            f"the model failed (error id {error_id}: {type(exc).__name__}); "
            "the server log has the details",
            500,
        ) from None


class TooSlow(Exception):
    """The challenger took too long, or fell too far behind, and was dropped."""


async def _challenge(
    worker: Worker, model: ServedModel, names: list[str], columns: list[list[Any]], rows: int
) -> list[Any]:
    """The challenger's prediction within ``worker.challenger_seconds`` (its thread may be
    stuck for good: the call is left to finish, or never, on its own)."""
    task = asyncio.ensure_future(worker.trial_batcher.predict(model, names, columns, rows))
    done, _ = await asyncio.wait({task}, timeout=worker.challenger_seconds)
    if not done:
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # seen, not raised
        worker.drop_challenger(f"a prediction took over {worker.challenger_seconds:g} s")
        raise TooSlow
    try:
        return task.result()
    except QueueFull as exc:
        worker.drop_challenger(f"it fell behind the traffic ({exc})")
        raise TooSlow from None


def _same_inputs(a: ServedModel, b: ServedModel) -> bool:
    """Whether two models take the same columns, of the same types."""
    return (a.input_names, a.input_types, a.optional) == (b.input_names, b.input_types, b.optional)


async def _shadow(worker: Worker, champion: _Answer) -> None:
    """The challenger's answer to a request the champion answered: logged, never returned."""
    challenger = worker.challenger
    if challenger is None or champion.shadow is None:
        return
    started = time.perf_counter()
    answer = _Answer(champion.id, challenger)
    answer.protocol, answer.variant, answer.is_shadow = champion.protocol, "challenger", True
    answer.row_ids = champion.row_ids
    try:
        if champion.inputs is not None and _same_inputs(challenger, champion.model):
            names, columns = list(champion.inputs), list(champion.inputs.values())  # checked
        else:
            names, columns = challenger.check(champion.shadow)
        answer.outputs = await _predict(
            worker, challenger, names, columns, champion.shadow.rows, champion.id
        )
    except TooSlow:
        return  # dropped, with a line in the server log
    except BadRequest as exc:
        answer.fail(exc.status, str(exc))
    except Exception as exc:  # noqa: BLE001 - the shadow never fails what was answered
        log.exception("the shadow prediction of request %s failed", champion.id)
        answer.fail(500, f"internal error ({type(exc).__name__})")
    record = answer.record(time.perf_counter() - started)
    if record is not None and worker.log is not None:
        try:
            worker.log.write(record)
        except OSError as exc:
            log.error("the prediction log could not be written: %s", exc)


def _row_ids(batch: Batch, column: str, model: ServedModel) -> tuple[Batch, list[str]]:
    """The ids in ``column`` (as text), and the batch the model sees (without them unless its
    signature names that column)."""
    if column not in batch.names:
        raise BadRequest(
            f"each request needs column {column!r}: this endpoint logs it as the rows' ids",
            422,
        )
    index = batch.names.index(column)
    ids = batch.columns[index]
    for row, value in enumerate(ids):
        if value is None or isinstance(value, (dict, list)):
            raise BadRequest(f"column {column!r}, row {row}: an id must be a number or text", 422)
    texts = [id_text(v) for v in ids]
    if column in model.input_names:
        return batch, texts
    kept = [i for i in range(len(batch.names)) if i != index]
    return Batch([batch.names[i] for i in kept], [batch.columns[i] for i in kept]), texts


def _refusal(exc: Exception) -> str | None:
    """The first line of MLflow's own input check when that is what failed (a client mistake)."""
    if type(exc).__name__ == "MlflowException" and getattr(exc, "error_code", "") in (
        "INVALID_PARAMETER_VALUE",
        "BAD_REQUEST",
    ):
        return first_line(getattr(exc, "message", None) or exc)
    return None


class _Answer:
    """What one request is answered, and the log record it leaves (built in :meth:`record`)."""

    def __init__(self, request_id: str, model: ServedModel):
        self.id = request_id
        self.model = model  # the model that answered (the champion until one is picked)
        self.status = 200
        self.payload = b""
        self.content_type = b"application/json"
        self.protocol = "other"
        self.rows = 0
        self.cors: list[tuple[bytes, bytes]] = []
        self.inputs: dict[str, list[Any]] | None = None
        self.outputs: list[Any] | None = None
        self.error: str | None = None
        self.variant: str | None = None  # champion or challenger, during a trial
        self.probe = False
        self.shadow: Batch | None = None  # the rows a shadow challenger predicts afterwards
        self.is_shadow = False
        self.row_ids: list[str] | None = None  # the endpoint's id column, when it has one

    def fail(self, status: int, message: str) -> None:
        self.status, self.error = status, message
        self.content_type = b"application/json"
        self.payload = orjson.dumps(
            {"error_code": _code(status), "message": message, "request_id": self.id}
        )
        self.inputs = self.outputs = self.shadow = None

    def record(self, seconds: float) -> dict[str, Any] | None:
        """The log record of a prediction request (None for any other request)."""
        if self.protocol == "other":
            return None
        record: dict[str, Any] = {
            "id": self.id,
            "ts": time.time(),
            "model": self.model.name,
            "version": self.model.version,
            "protocol": self.protocol,
            "status": self.status,
            "latency_ms": round(seconds * 1000, 3),
        }
        if self.variant is not None:
            record["variant"] = self.variant
        if self.is_shadow:
            record["shadow"] = True
        if self.error is not None:
            record["error"] = self.error  # a refused prediction is logged too, without inputs
        else:
            if self.inputs is not None:
                record["inputs"] = self.inputs
            record["outputs"] = self.outputs
            if self.row_ids is not None:
                record["row_ids"] = self.row_ids
        if self.probe:
            record["probe"] = True
        return record

    def headers(self) -> list[tuple[bytes, bytes]]:
        busy = [(b"retry-after", b"1")] if self.status == 503 else []
        return [
            (b"content-type", self.content_type),
            (b"x-request-id", self.id.encode()),
            *busy,
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


def _get(path: str, worker: Worker) -> tuple[bytes, bytes]:
    model = worker.model
    name = worker.record["name"]
    if path in ("/ping", "/health", "/v2/health/live", "/v2/health/ready"):
        return b"{}", b"application/json"
    if path == "/version":
        answer: dict[str, Any] = {
            "model": model.name,
            "version": model.version,
            "batching": _batching(model, worker.batcher.max_rows),
        }
        answer["instance"] = worker.record.get("instance")
        if worker.challenger is not None and worker.trial is not None:
            answer["challenger"] = {
                "version": worker.challenger.version,
                "split": worker.trial.split,
                "shadow": worker.trial.shadow,
            }
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


def _batching(model: ServedModel, max_rows: int) -> str:
    """How the worker calls the model, as ``%serve status`` shows it."""
    if model.compiled == "linear":
        return "compiled linear, one call per request"
    compiled = f"compiled {model.compiled}, " if model.compiled else ""
    if max_rows < 1:
        return f"{compiled}one call per request (batching off)"
    if model.batchable:
        return f"{compiled}adaptive batches"
    return "one call per request (its batch predictions differ, or it has no input example)"


def create_app() -> App:
    """The app for the endpoint whose record ``MLOPS_JUPYTER_ENDPOINT`` names (uvicorn factory)."""
    return App(Path(os.environ[RECORD_ENV]))
