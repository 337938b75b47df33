"""Publish an endpoint's dashboard with Voilà, for people who never open a notebook.

The dashboard is a notebook written to ``.mlops/dashboards/NAME.ipynb`` and served by Voilà in its
own process on 127.0.0.1 (sources hidden), recorded beside it so that ``--stop``, other notebooks
and the sidebar find it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError, NotFoundError, close_matches
from ..netutil import is_ours, kill_child, kill_group, pick_port, process_started, wait_port
from ..workspace import Workspace, write_private

PathLike = str | os.PathLike[str]
MAX_KERNELS = 8
READY_ENV = "MLOPS_JUPYTER_DASHBOARD_READY"


def _config(token: str, max_kernels: int) -> dict[str, Any]:
    """Voilà's configuration: the token, the kernel limit, idle kernels culled, and one kernel
    kept warm with the dashboard already run in it (a visitor's page opens at once)."""
    return {
        # Voilà's page ends its kernel on unload with a POST that carries no XSRF token, refused
        # (voila-dashboards/voila#1458): closed pages kept their kernels until culled, and the
        # kernel limit turned visitors away. Every request still needs the token.
        # port_retries 0: Voilà would take another port unseen, and our URL would name a port
        # some other server holds; ``start`` picks the next port itself instead.
        "Voila": {
            "token": token,
            "tornado_settings": {"disable_check_xsrf": True},
            "port_retries": 0,
        },
        "VoilaConfiguration": {
            "multi_kernel_manager_class": "mlops_jupyter.monitoring.voila_kernels."
            "LimitedKernelManager",
            "preheat_kernel": True,
            "default_pool_size": 1,
        },
        "LimitedKernelManager": {
            "max_kernels": max_kernels,
            "cull_idle_timeout": 600,
            "cull_interval": 60,
            "cull_connected": False,
        },
    }


@dataclass(frozen=True)
class Dashboard:
    endpoint: str
    url: str
    pid: int
    notebook: Path
    record: Path
    pid_started: float | None = None  # when its process started: proves a pid is still ours

    def __str__(self) -> str:
        return f"dashboard of {self.endpoint} at {self.url}"

    @property
    def ready(self) -> Path:
        """Touched each time a kernel has the page ready (the warm one for the next visitor)."""
        return self.notebook.with_suffix("") / "ready"


def _folder(ws: Workspace) -> Path:
    return ws.state_dir / "dashboards"


TEMPLATE = Path(__file__).with_name("dashboard.ipynb")


def notebook(endpoint: str, project_root: Path, refresh: float) -> Any:
    """The dashboard notebook: the template (``dashboard.ipynb``) with its parameters set."""
    import nbformat

    nb = nbformat.read(TEMPLATE, as_version=4)
    nb.cells[0].source = f"# Monitoring: {endpoint}"
    (parameters,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    parameters.source = (
        f"endpoint = {endpoint!r}\nrefresh = {refresh!r}\nproject = {str(project_root)!r}"
    )
    return nb


def publish(
    endpoint: str,
    port: int | None = None,
    host: str = "127.0.0.1",
    refresh: float = 60,
    project: PathLike | None = None,
    timeout: float = 120,
    max_kernels: int = MAX_KERNELS,
) -> Dashboard:
    """Write the dashboard notebook of ``endpoint`` and serve it with Voilà; returns its URL
    once the first visitor's page is ready (Voilà keeps a kernel warm with it already run).

    The URL holds a token (Voilà refuses requests without it). Each page load runs a kernel:
    at most ``max_kernels`` at once, and one idle for 10 minutes is ended.
    """
    import nbformat

    from ..serving import endpoints

    ws = Workspace.find(project)
    endpoints.get(endpoint, project)  # an unknown endpoint: one clear error
    current = {d.endpoint: d for d in dashboards(ws.root)}
    if endpoint in current:
        return current[endpoint]
    if refresh < 5:
        raise MlopsError("--refresh must be at least 5 seconds")
    chosen = pick_port(port, ws.settings.port("dashboard_port"), host)
    folder = _folder(ws)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{endpoint}.ipynb"
    nbformat.write(notebook(endpoint, ws.root, refresh), path)
    token = secrets.token_urlsafe(24)  # local pages too: any site could open localhost
    logs = ws.resolve_setting(ws.settings.logs_dir)
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"dashboard-{endpoint}.log"
    # Voilà reads voila.json in its working folder: the token goes there (0600), never on the
    # command line where `ps` shows it to every user of the machine.
    work = folder / endpoint
    work.mkdir(exist_ok=True)
    write_private(work / "voila.json", json.dumps(_config(token, max_kernels), indent=1))
    ready = work / "ready"  # touched by the notebook's last cell (see Dashboard.ready)
    record_path = folder / f"{endpoint}.json"
    for attempt in range(5):  # a port taken between our check and Voilà's bind: the next one
        if attempt:
            chosen = pick_port(None, chosen + 1, host)
        command = [
            sys.executable, "-m", "voila", str(path), "--no-browser", f"--port={chosen}",
            f"--Voila.ip={host}", "--strip_sources=True",
        ]  # fmt: skip
        ready.unlink(missing_ok=True)
        log_start = log_path.stat().st_size if log_path.exists() else 0
        env = {**os.environ, READY_ENV: str(ready)}
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                command, cwd=work, stdout=log, stderr=log, start_new_session=True, env=env
            )
        url = f"http://{host}:{chosen}/?token={token}"
        record = {
            "endpoint": endpoint,
            "url": url,
            "pid": proc.pid,
            "pid_started": process_started(proc.pid),
            "notebook": str(path),
            "log": str(log_path),
            "started": time.time(),
        }
        write_private(record_path, json.dumps(record, indent=1))  # the URL holds the token
        try:
            started = time.monotonic()
            wait_port(host, chosen, timeout, alive=lambda p=proc: p.poll() is None)
            while not ready.exists() and time.monotonic() - started < timeout:
                if proc.poll() is not None:
                    raise MlopsError("voila exited")
                time.sleep(0.1)
            if proc.poll() is not None:
                raise MlopsError("voila exited")
            return _dashboard(record_path, record)
        except MlopsError:
            kill_child(proc)
            record_path.unlink(missing_ok=True)
            with open(log_path, "rb") as log:
                log.seek(log_start)
                taken = b"already in use" in log.read()
            if not taken or port is not None:
                break
    raise MlopsError(f"the dashboard of {endpoint} did not start; see {log_path}")


def _dashboard(path: Path, record: dict[str, Any]) -> Dashboard:
    return Dashboard(
        record["endpoint"],
        record["url"],
        int(record["pid"]),
        Path(record["notebook"]),
        path,
        record.get("pid_started"),
    )


def dashboards(project: PathLike | None = None) -> list[Dashboard]:
    """The published dashboards that are running (records of dead ones are removed)."""
    ws = Workspace.find(project)
    found = []
    for path in sorted(_folder(ws).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if is_ours(int(record.get("pid", 0)), record.get("pid_started")):
            found.append(_dashboard(path, record))
        else:
            path.unlink(missing_ok=True)
    return found


def stop(endpoint: str, project: PathLike | None = None) -> Dashboard:
    """Stop the published dashboard of ``endpoint``."""
    running = {d.endpoint: d for d in dashboards(project)}
    if endpoint not in running:
        raise NotFoundError(
            f"no dashboard of {endpoint!r} is published; {close_matches(endpoint, list(running))}"
        )
    found = running[endpoint]
    kill_group(found.pid, found.pid_started)
    found.record.unlink(missing_ok=True)
    return found
