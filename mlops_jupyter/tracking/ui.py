"""MLflow's own UI for the project's store, started on 127.0.0.1 in the background."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import MlopsError
from ..netutil import is_ours, kill_child, kill_group, pick_port, process_started, wait_http
from ..workspace import Workspace
from . import remote, store


def _record(ws: Workspace) -> Path:
    return ws.state_dir / "mlflow-ui.json"


def start(port: int | None = None, project: str | os.PathLike[str] | None = None) -> str:
    """Start (or find running) ``mlflow server`` on the project's store; its URL.

    A project that tracks into a server already has that server's UI: its URL is returned.
    """
    ws = Workspace.find(project)
    record = _record(ws)
    if record.exists():
        info = json.loads(record.read_text())
        if is_ours(info["pid"], info.get("pid_started")) and port in (None, info["port"]):
            return str(info["url"])
        stop(project)
    uri = store.tracking_uri(ws)
    store.connect(ws)  # creates the embedded store the first time; probes a server
    if remote.is_server(uri):
        return uri  # a tracking server is its own UI
    chosen = pick_port(port, ws.settings.port("ui_port"))
    url = f"http://127.0.0.1:{chosen}"
    logs = ws.resolve_setting(ws.settings.logs_dir)
    logs.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", uri,
        "--host", "127.0.0.1",
        "--port", str(chosen),
        "--workers", "1",
    ]  # fmt: skip
    if store.is_embedded(uri):
        command += ["--default-artifact-root", store.artifact_root(ws)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # A UI for one user needs no background job consumers (MLflow 3 starts them by default).
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    with open(logs / "mlflow-ui.log", "ab") as log:
        proc = subprocess.Popen(
            command, cwd=ws.root, stdout=log, stderr=log, env=env, start_new_session=True
        )
    try:
        wait_http(f"{url}/health", timeout=180, alive=lambda: proc.poll() is None)
    except MlopsError as exc:
        kill_child(proc)  # never leave a half-started server behind
        raise MlopsError(f"{exc}: {logs / 'mlflow-ui.log'}") from None
    started = process_started(proc.pid)
    record.write_text(
        json.dumps({"pid": proc.pid, "pid_started": started, "port": chosen, "url": url})
    )
    return url


def stop(project: str | os.PathLike[str] | None = None) -> bool:
    """Stop the UI this project started; False if none was running."""
    ws = Workspace.find(project)
    record = _record(ws)
    if not record.exists():
        return False
    info = json.loads(record.read_text())
    record.unlink()
    if not is_ours(info["pid"], info.get("pid_started")):
        return False  # gone, or its number is another process's now: no signal
    kill_group(info["pid"], info.get("pid_started"))
    return True
