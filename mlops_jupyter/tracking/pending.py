"""Run ends that a store outage kept from being written, kept on disk until the store is back.

When the tracking server (or its database) fails while a run is active, the run's end (its
status, its error and the metric points still queued) goes to ``.mlops/pending-runs/`` and is
written by the next connection that reaches the store: the run is marked, and no point is lost.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..workspace import Workspace

FOLDER = "pending-runs"


def folder(ws: Workspace) -> Path:
    return ws.state_dir / FOLDER


def keep(
    ws: Workspace, uri: str, run_id: str, status: str, error: str | None, metrics: list[Any]
) -> Path:
    """Write the end of ``run_id`` to disk, atomically; its path."""
    record = {
        "uri": uri,
        "run_id": run_id,
        "status": status,
        "error": error,
        "metrics": [[m.key, m.value, m.timestamp, m.step] for m in metrics],
    }
    path = folder(ws) / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)
    return path


def waiting(ws: Workspace, uri: str) -> list[dict[str, Any]]:
    """The run ends kept for the store at ``uri``."""
    found = []
    for path in sorted(folder(ws).glob("*.json")) if folder(ws).is_dir() else []:
        record = json.loads(path.read_text())
        if record.get("uri") == uri:
            found.append(record)
    return found


def settle(ws: Workspace, client: Any, uri: str) -> list[str]:
    """Write the kept run ends to the store (which answers again); the run ids written.

    Each record is claimed first (renamed), so that two processes never write one twice; a
    record whose writing fails goes back for the next try.
    """
    from mlflow.entities import Metric

    done = []
    for record in waiting(ws, uri):
        run_id = record["run_id"]
        path = folder(ws) / f"{run_id}.json"
        claimed = path.with_name(f".{run_id}.{os.getpid()}.claimed")
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue  # another process is writing it
        try:
            metrics = [Metric(k, v, t, s) for k, v, t, s in record["metrics"]]
            for start in range(0, len(metrics), 1000):
                client.log_batch(run_id, metrics=metrics[start : start + 1000], synchronous=True)
            if record.get("error"):
                client.set_tag(run_id, "mlops.error", record["error"])
            client.set_terminated(run_id, record["status"])
        except BaseException:
            os.rename(claimed, path)
            raise
        claimed.unlink()
        done.append(run_id)
    return done
