"""Run ends that a store outage kept from being written, kept on disk until the store is back.

When the tracking server (or its database) fails while a run is active, the run's end (its
status, its error and the metric points still queued) goes to ``.mlops/pending-runs/`` and is
written by the next connection that reaches the store: the run is marked, and no point is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import first_line
from ..netutil import pid_alive
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
    """The run ends kept for the store at ``uri`` (claims of processes that died are freed)."""
    base = folder(ws)
    if not base.is_dir():
        return []
    for claim in base.glob(".*.claimed"):  # .RUN.PID.claimed
        run_id, _, pid = claim.name[1:].removesuffix(".claimed").rpartition(".")
        if pid.isdigit() and not pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):  # freed by another process first
                os.rename(claim, base / f"{run_id}.json")
    found = []
    for path in sorted(base.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:  # claimed by another process since the listing
            continue
        except (json.JSONDecodeError, UnicodeDecodeError):
            _set_aside(path, "its file is not valid JSON")
            continue
        if isinstance(record, dict) and record.get("uri") == uri and "run_id" in record:
            found.append(record)
    return found


def settle(ws: Workspace, client: Any, uri: str) -> list[str]:
    """Write the kept run ends to the store (which answers again); the run ids written.

    Each record is claimed first (renamed), so that two processes never write one twice. A
    record the store cannot take (its run deleted, any refusal that is not an outage) is set
    aside in ``failed/`` with one line, so that it never blocks the next connection; an
    outage puts the record back for the next try and is raised.
    """
    from mlflow.entities import Metric

    from .remote import explain

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
            metrics = [Metric(k, v, t, s) for k, v, t, s in record.get("metrics", [])]
            for start in range(0, len(metrics), 1000):
                client.log_batch(run_id, metrics=metrics[start : start + 1000], synchronous=True)
            if record.get("error"):
                client.set_tag(run_id, "mlops.error", record["error"])
            client.set_terminated(run_id, record.get("status", "FAILED"))
        except Exception as exc:  # noqa: BLE001 - sorted below: outage or refusal
            if explain(exc, uri) is not None:
                os.rename(claimed, path)
                raise
            _set_aside(claimed, first_line(exc), name=path.name)
            continue
        except BaseException:
            os.rename(claimed, path)
            raise
        claimed.unlink()
        done.append(run_id)
    return done


def _set_aside(path: Path, why: str, name: str | None = None) -> None:
    """Move a record the store cannot take to ``failed/``, saying so in one line."""
    aside = path.parent / "failed" / (name or path.name)
    aside.parent.mkdir(exist_ok=True)
    os.replace(path, aside)
    print(
        f"a kept run end could not be written ({why}); it is set aside in {aside}",
        file=sys.stderr,
    )
