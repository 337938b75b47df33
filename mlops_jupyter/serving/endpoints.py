"""Endpoints: start a registered model behind HTTP in its own process, find, reload, stop them.

Each endpoint is recorded in the project (``endpoints_dir/NAME.json``) so that another notebook,
the command line and the sidebar see it; one whose process died shows as such and is cleaned up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError, NotFoundError, close_matches
from ..netutil import is_ours, kill_child, kill_group, pick_port, wait_http
from ..workspace import Workspace, write_private

STICKY_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class Endpoint:
    """What the project knows of a running endpoint."""

    name: str
    url: str
    model: str
    version: str
    alias: str | None
    pid: int
    started: float
    record: Path
    workers: int = 1
    challenger: str | None = None  # during a trial: "M version 4 on 10% of requests"
    pid_started: float | None = None  # when its process started: proves a pid is still ours

    def __str__(self) -> str:
        text = (
            f"endpoint {self.name}: {_served(self.model, self.alias, self.version)} at {self.url}"
        )
        return text + (f"; challenger {self.challenger}" if self.challenger else "")


def _served(model: str, alias: str | None, version: str) -> str:
    """``M@alias (version 3)``, or ``M (version 3)``."""
    return f"{model}{'@' + alias if alias else ''} (version {version})"


def _folder(ws: Workspace) -> Path:
    return ws.resolve_setting(ws.settings.endpoints_dir)


def _record_path(ws: Workspace, name: str) -> Path:
    return _folder(ws) / f"{name}.json"


def _endpoint(record_path: Path, record: dict[str, Any]) -> Endpoint:
    return Endpoint(
        name=record["name"],
        url=f"http://{record['host']}:{record['port']}",
        model=record["model"],
        version=str(record["version"]),
        alias=record.get("alias"),
        pid=int(record["pid"]),
        started=float(record["started"]),
        record=record_path,
        workers=int(record.get("workers", 1)),
        challenger=_trial_text(record),
        pid_started=record.get("pid_started"),
    )


def _trial_text(record: dict[str, Any]) -> str | None:
    found = record.get("challenger")
    if not found:
        return None
    share = (
        "a shadow of every request" if record.get("shadow") else f"{record['split']:g}% of requests"
    )
    sticky = f", sticky by {record['sticky']}" if record.get("sticky") else ""
    served = _served(found["model"], found.get("alias"), found["version"])
    return f"{served} on {share}{sticky}"


def trial_settings(
    ws: Workspace,
    challenger: str | None,
    split: float = 0.0,
    shadow: bool = False,
    sticky: str | None = None,
    champion: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record's fields for a trial of ``challenger`` beside ``champion`` (none: no trial).

    On a split, the challenger must take every request the champion takes: the same columns
    of the same types (a request it refused would fail the client); a shadow may differ (its
    refusals are only logged)."""
    if challenger is None:
        if split or shadow or sticky:
            raise MlopsError("--split, --shadow and --sticky need a --challenger model")
        return {"challenger": None, "split": 0.0, "shadow": False, "sticky": None}
    if shadow and split:
        raise MlopsError(
            "choose --split PERCENT (the challenger answers that share of requests) or --shadow "
            "(it predicts every request and answers none), not both"
        )
    if not shadow and not 0 < split <= 100:
        raise MlopsError(
            f"--split {split:g}: give the percent of requests the challenger answers (more "
            "than 0, at most 100), or --shadow"
        )
    if sticky is not None and not STICKY_HEADER.fullmatch(sticky):
        raise MlopsError(f"--sticky {sticky!r}: name an HTTP header, e.g. X-User-Id")
    found = resolve_model(ws, challenger)
    misfit = _misfit(champion, found) if champion is not None and split else None
    if champion is not None and misfit:  # (mypy: a misfit needs a champion)
        served = _served(champion["model"], champion.get("alias"), champion["version"])
        raise MlopsError(
            f"{challenger} cannot answer every request {served} takes: {misfit}; on a split "
            "those would fail. Give it the champion's inputs, or try it with --shadow (its "
            "refusals are only logged)"
        )
    return {
        "challenger": found,
        "split": float(split),
        "shadow": bool(shadow),
        "sticky": sticky,
    }


def _misfit(champion: dict[str, Any], challenger: dict[str, Any]) -> str | None:
    """What the challenger's signature asks that the champion's does not (None: nothing, or a
    model without a signature, which takes what it is given)."""
    ours, theirs = _inputs(champion), _inputs(challenger)
    if ours is None or theirs is None:
        return None
    needs = [n for n, (_, required) in theirs.items() if required and n not in ours]
    differ = [
        f"{n} is {kind}, not {ours[n][0]}"
        for n, (kind, _) in theirs.items()
        if n in ours and ours[n][0] != kind
    ]
    parts = ([f"it needs column(s) {', '.join(needs)}"] if needs else []) + differ
    return "; ".join(parts) or None


def _inputs(found: dict[str, Any]) -> dict[str, tuple[str, bool]] | None:
    """A model's input columns (its MLmodel file's signature): name -> (type, required)."""
    from mlflow.models import Model
    from mlflow.utils.file_utils import local_file_uri_to_path

    from .model import signature_columns

    where = found.get("location") or found["uri"]
    if where.startswith("file:"):
        where = local_file_uri_to_path(where)
    signature = Model.load(where).signature
    return signature_columns(signature.inputs if signature is not None else None)


def resolve_model(ws: Workspace, ref: str) -> dict[str, Any]:
    """What ``M@alias``, ``M/3``, ``M`` or ``runs:/ID/model`` names: uri, model, version, run."""
    from ..tracking import names, store

    client = store.connect(ws)
    if ref.startswith("runs:/"):
        run = names.find_run(client, ref)
        from ..tracking.registry import logged_models

        models = logged_models(client, run)
        if not models:
            raise MlopsError(f"run {run.info.run_name} logged no model; log one first")
        return {
            "uri": models[-1].model_uri,
            "location": models[-1].artifact_location,
            "model": run.info.run_name,
            "version": "run",
            "alias": None,
            "run_id": run.info.run_id,
        }
    version = names.model_version(client, ref)
    alias = ref.partition("@")[2] or None
    return {
        "uri": f"models:/{version.name}/{version.version}",
        # where its files are: the server loads them without opening the registry (2-3 s)
        "location": client.get_model_version_download_uri(version.name, version.version),
        "model": version.name,
        "version": str(version.version),
        "alias": alias,
        "run_id": version.run_id,
    }


def start(
    ref: str,
    name: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    host: str = "127.0.0.1",
    token: str | None = None,
    project: str | os.PathLike[str] | None = None,
    timeout: float = 120,
    log_predictions: bool = True,
    batching: bool = True,
    challenger: str | None = None,
    split: float = 0.0,
    shadow: bool = False,
    sticky: str | None = None,
    id_column: str | None = None,
) -> Endpoint:
    """Serve model ``ref`` in a new process; returns once it answers, with its URL.

    ``challenger`` starts a trial beside it: the challenger answers ``split`` percent of the
    requests (the same ones for each value of header ``sticky``, when given), or with
    ``shadow`` it predicts every request and its answers are only logged (see :func:`trial`).
    ``log_predictions=False`` turns the prediction log off (for measuring what it costs);
    monitoring then has nothing to read. ``batching=False`` calls the model once per request
    (for a model with side effects per call, or to measure what batching gives).
    ``id_column``: a column each request carries with its rows' own ids (a loan number, say),
    logged for labels to join by (and passed to the model only if its signature asks for it).
    Without it, row ``N`` of a request is ``REQUEST_ID#N`` (a one-row request is also just
    ``REQUEST_ID``).
    """
    from ..tracking import store

    ws = Workspace.find(project)
    found = resolve_model(ws, ref)
    name = name or found["model"]
    from ..datasets.refs import check_name

    check_name(name)
    workers = default_workers(ws) if workers is None else workers
    if id_column is not None and not id_column.strip():
        raise MlopsError("--id-column: give the name of the column that holds each row's id")
    if workers < 1:
        raise MlopsError("--workers must be at least 1")
    trial = trial_settings(ws, challenger, split, shadow, sticky, champion=found)
    running = {e.name: e for e in endpoints(ws.root)}
    if name in running:
        raise MlopsError(
            f"endpoint {name} is already running at {running[name].url}; stop it "
            f"(`%serve stop {name}`) or pick another --name"
        )
    chosen = pick_port(port, ws.settings.port("serve_port"), host)
    state = ws.state_dir / "serving" / name
    logs = ws.resolve_setting(ws.settings.logs_dir)
    logs.mkdir(parents=True, exist_ok=True)
    record = {
        "name": name,
        **found,
        "host": host,
        "port": chosen,
        "workers": workers,
        "token": token,
        "tracking_uri": store.tracking_uri(ws),
        "log_dir": str(logs / "predictions" / name),
        "metrics_dir": str(state / "metrics"),
        "server_log": str(logs / f"serve-{name}.log"),
        "generation": 0,
        "instance": uuid.uuid4().hex,  # answers /version: proves the server on the port is ours
        "probe_key": secrets.token_hex(16),  # marks monitoring's own requests as not traffic
        "allow_origins": [
            o.strip() for o in ws.settings.serve_allow_origins.split(",") if o.strip()
        ],
        "fsync": ws.settings.flag("prediction_log_fsync"),
        "log": log_predictions,
        "batching": batching,
        "id_column": id_column,
        **trial,
        "started": time.time(),
        "pid": 0,  # the server writes its pid, start time and port once it has bound it
        "port_fixed": port is not None,  # else it takes the next free port from `chosen`
    }
    path = _record_path(ws, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, record)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with open(record["server_log"], "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlops_jupyter.serving.server", str(path)],
            cwd=ws.root,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    try:
        # The server binds its port, then writes it, its pid and start time into the record.
        record = _announced(path, proc, timeout)
        wait_http(
            f"http://{_local(host)}:{record['port']}/v2/health/ready",
            timeout,
            alive=lambda: proc.poll() is None,
        )
        _check_instance(record)
    except MlopsError as e:
        kill_child(proc)
        path.unlink(missing_ok=True)
        tail = _tail(Path(record["server_log"]), 1) or str(e)
        raise MlopsError(
            f"endpoint {name} did not start: {tail or 'no output'} (log: {record['server_log']})"
        ) from None
    return _endpoint(path, record)


def _announced(path: Path, proc: Any, timeout: float) -> dict[str, Any]:
    """The record once the server process wrote its pid and the port it bound into it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(path.read_text())
            if record.get("pid") == proc.pid:
                return dict(record)
        if proc.poll() is not None:
            raise MlopsError("the server exited before it bound its port")
        time.sleep(0.05)
    raise MlopsError(f"the server bound no port within {timeout:.0f} s")


def default_workers(ws: Workspace) -> int:
    """Workers when none are asked for: the ``serve_workers`` setting; auto is one per core
    (each worker's thread pools get a share of the cores), at most 4."""
    value = ws.settings.serve_workers.strip().lower()
    if value == "auto":
        return max(1, min(os.cpu_count() or 1, 4))
    if not value.isdigit() or int(value) < 1:
        raise MlopsError(
            f"setting serve_workers must be auto or a number of workers, not {value!r}"
        )
    return int(value)


def _check_instance(record: dict[str, Any]) -> None:
    """The server answering on the port is the one just started (not one that won a race)."""
    import urllib.request

    request = urllib.request.Request(f"http://{_local(record['host'])}:{record['port']}/version")
    if record.get("token"):
        request.add_header("Authorization", f"Bearer {record['token']}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            answer = json.loads(r.read())
    except (OSError, ValueError):
        answer = {}
    if answer.get("instance") != record["instance"]:
        raise MlopsError(f"another server took port {record['port']} while this one started")


def _local(host: str) -> str:
    """The address to reach a server bound to ``host`` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host


def _write(path: Path, record: dict[str, Any]) -> None:
    """Replace the record atomically; the file is private (0600) from its first byte, as it
    holds the endpoint's token and probe key."""
    write_private(path, json.dumps(record, indent=1))


def _tail(path: Path, lines: int) -> str:
    if not path.exists():
        return ""
    text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return "\n".join(text[-lines:])


def endpoints(project: str | os.PathLike[str] | None = None, clean: bool = True) -> list[Endpoint]:
    """The endpoints that are running; records of dead ones are removed (and reported)."""
    ws = Workspace.find(project)
    found = []
    for path in sorted(_folder(ws).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("pid") and is_ours(int(record["pid"]), record.get("pid_started")):
            found.append(_endpoint(path, record))
        elif clean and record.get("pid"):
            print(
                f"endpoint {record['name']} had stopped (its process is gone); cleaned up",
                file=sys.stderr,
            )
            path.unlink(missing_ok=True)
    return found


def get(name: str, project: str | os.PathLike[str] | None = None) -> Endpoint:
    running = {e.name: e for e in endpoints(project)}
    if name not in running:
        raise NotFoundError(
            f"no endpoint {name!r} is running; {close_matches(name, list(running))}"
        )
    return running[name]


def record_of(endpoint: Endpoint) -> dict[str, Any]:
    return dict(json.loads(endpoint.record.read_text()))


def stop(name: str, project: str | os.PathLike[str] | None = None) -> Endpoint:
    """Stop endpoint ``name`` (its workers finish the requests in flight)."""
    endpoint = get(name, project)
    kill_group(endpoint.pid, endpoint.pid_started)
    endpoint.record.unlink(missing_ok=True)
    return endpoint


def reload(name: str, project: str | os.PathLike[str] | None = None) -> Endpoint:
    """Make endpoint ``name`` load its model again (the alias's current version), no downtime."""
    endpoint = get(name, project)
    record = record_of(endpoint)
    ws = Workspace.find(project)
    for part in (record, record.get("challenger")):
        if part and part.get("alias"):
            found = resolve_model(ws, f"{part['model']}@{part['alias']}")
            part.update({k: found[k] for k in ("version", "uri", "location", "run_id")})
    reloaded = _rewrite(endpoint, record)
    _await_version(reloaded, str(record["version"]), int(record.get("workers", 1)))
    return reloaded


def _await_version(endpoint: Endpoint, version: str, workers: int, timeout: float = 60) -> None:
    """Return once the endpoint's workers answer with ``version`` (each loads it in the
    background at its next request): traffic sent after a reload meets the new model."""
    deadline, streak, seen = time.monotonic() + timeout, 0, "?"
    while streak < 4 * workers:  # new connections reach the workers in turn
        if time.monotonic() > deadline:
            raise MlopsError(
                f"endpoint {endpoint.name} still answers with version {seen} {timeout:.0f} s "
                f"after the reload (it keeps serving that one); its server log says why"
            )
        status, _, body = request(endpoint, "/version")
        seen = str(json.loads(body).get("version")) if status == 200 else "?"
        streak = streak + 1 if seen == version else 0
        time.sleep(0.05)


def trial(
    name: str,
    challenger: str | None,
    split: float = 0.0,
    shadow: bool = False,
    sticky: str | None = None,
    project: str | os.PathLike[str] | None = None,
) -> Endpoint:
    """Start, change or (``challenger=None``) end the trial of a running endpoint.

    The challenger answers ``split`` percent of the requests, or with ``shadow`` predicts every
    request after the champion answered and is only logged; each log record names the variant
    that answered. The workers switch within seconds, with no failed request.
    """
    endpoint = get(name, project)
    record = record_of(endpoint)
    record.update(
        trial_settings(Workspace.find(project), challenger, split, shadow, sticky, champion=record)
    )
    return _rewrite(endpoint, record)


def _rewrite(endpoint: Endpoint, record: dict[str, Any]) -> Endpoint:
    """A new record generation: every worker loads what it names, in the background."""
    record["generation"] = int(record.get("generation", 0)) + 1
    _write(endpoint.record, record)
    return _endpoint(endpoint.record, record)


def request(
    endpoint: Endpoint,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    request_id: str | None = None,
    probe: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to an endpoint (with its token); status, headers, body.

    ``probe``: monitoring's own request, marked so that it is not counted as traffic.
    """
    import urllib.error
    import urllib.request

    record = record_of(endpoint)
    headers = {"Content-Type": content_type}
    if request_id:
        headers["X-Request-Id"] = request_id
    if record.get("token"):
        headers["Authorization"] = f"Bearer {record['token']}"
    if probe and record.get("probe_key"):
        headers["X-Mlops-Probe"] = record["probe_key"]
    req = urllib.request.Request(endpoint.url + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
