"""A Prometheus scrape configuration for the project's endpoints (each serves ``/metrics``).

The text is a whole ``prometheus.yml`` that Prometheus starts with as is; its ``scrape_configs``
job is what to paste into an existing one. Each target carries the endpoint's name and model
as labels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import MlopsError
from ..workspace import Workspace
from . import endpoints

JOB = "mlops-jupyter"


def scrape_config(
    project: str | os.PathLike[str] | None = None, interval: str = "15s", job: str = JOB
) -> str:
    """The configuration as YAML text; :class:`MlopsError` when no endpoint is running."""
    import yaml

    ws = Workspace.find(project)
    running = endpoints.endpoints(ws.root)
    if not running:
        raise MlopsError("no endpoint is running; start one with `%serve start MODEL@alias`")
    jobs = []
    for endpoint in running:
        record = json.loads(endpoint.record.read_text())
        scrape: dict[str, object] = {
            "job_name": f"{job}-{endpoint.name}",
            "metrics_path": "/metrics",
            "honor_labels": True,  # the metrics' own endpoint label is the same name
            "static_configs": [
                {
                    "targets": [endpoint.url.removeprefix("http://")],
                    "labels": {"endpoint": endpoint.name, "model": endpoint.model},
                }
            ],
        }
        if record.get("token"):
            scrape["authorization"] = {"type": "Bearer", "credentials": record["token"]}
        jobs.append(scrape)
    body = yaml.safe_dump(
        {"global": {"scrape_interval": interval}, "scrape_configs": jobs}, sort_keys=False
    )
    head = f"# Prometheus scrape configuration for the endpoints of {ws.root}\n"
    if any("authorization" in j for j in jobs):
        head += "# It holds endpoint tokens: keep it private.\n"
    return head + body


def write(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` (readable by its owner only when it holds a token)."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    if "authorization:" in text:
        os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return target
