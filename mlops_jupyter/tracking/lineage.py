"""Lineage: which dataset versions a run read, recorded as the run's MLflow dataset inputs.

Tracking observes data loads (:func:`observe_loads`, called when it is imported): after every
``datasets.load``, :func:`record` runs. When an MLflow run is active (a
``%%track`` cell, a tracked notebook) the version becomes one of the run's inputs, with its
name, version and DVC hash; otherwise nothing happens and MLflow is not even imported.

:func:`graph` puts it all together: data versions -> runs -> model versions -> endpoints ->
monitors, walked either way.

When a run is reproduced, :func:`pinned` makes every load return the version the original run
read, whatever the reference asks for (``PINS_ENV`` holds them, set by the reproducer).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError

if TYPE_CHECKING:
    from ..datasets.catalog import Version
    from ..workspace import Workspace

PINS_ENV = "MLOPS_JUPYTER_PINNED_DATA"
TAG = "mlops.datasets"
_read: dict[str, list[dict[str, Any]]] = {}
_session: list[tuple[dict[str, Any], str | None]] = []


def observe_loads() -> None:
    """Record loads as lineage, and pin them in reproductions (the data API's hooks)."""
    from ..datasets import hooks

    hooks.observe("lineage", record)
    hooks.pin("lineage", pinned)


def describe(version: Version) -> dict[str, Any]:
    """What a run keeps of a version: enough to load exactly that data again."""
    return {
        "name": version.name,
        "version": version.number,
        "ref": version.ref,
        "md5": version.md5,
        "path": version.path,
        "commit": version.commit,
        "format": version.format,
        "rows": version.rows,
    }


def pinned(ref: str) -> Version | None:
    """The version a reproduction must load for ``ref``, if the original run recorded one."""
    pins = json.loads(os.environ.get(PINS_ENV) or "[]")
    if not pins:
        return None
    name = ref.split("@", 1)[0]
    same = [p for p in pins if p.get("requested") == ref]
    if not same:
        by_name = {p["md5"]: p for p in pins if p["name"] == name}
        same = list(by_name.values()) if len(by_name) == 1 else []
    return version_of(same[0]) if same else None


def version_of(pin: dict[str, Any]) -> Version:
    """The :class:`Version` a recorded read (an entry of ``mlops.datasets``) describes."""
    from ..datasets.catalog import Version

    return Version(
        name=pin["name"],
        number=pin.get("version"),
        rev=pin["commit"],
        commit=pin["commit"],
        path=pin["path"],
        md5=pin["md5"],
        format=pin.get("format"),
        rows=pin.get("rows"),
    )


def active_run_id() -> str | None:
    """The run that loads belong to: MLflow's active run, or the one a runner handed us."""
    if "mlflow" in sys.modules:
        import mlflow

        run = mlflow.active_run()
        if run is not None:
            return str(run.info.run_id)
    return os.environ.get("MLFLOW_RUN_ID") or None


def record(ws: Workspace, version: Version, frame: Any = None, requested: str = "") -> None:
    """Log ``version`` as an input of the active run (context training).

    Loads made before a run starts are remembered too: a tracked cell usually trains on a frame
    loaded in an earlier cell, so the run records those as inputs with context ``preloaded``.
    """
    entry = {**describe(version), "requested": requested or version.ref}
    schema = _schema(frame)
    run_id = active_run_id()
    if run_id is not None:
        _log(ws, run_id, [(entry, schema)], "training")
    if entry not in [e for e, _ in _session]:
        _session.append((entry, schema))


def forget() -> None:
    """Forget the loads this process made (a new session)."""
    _session.clear()
    _read.clear()


def start(ws: Workspace, run_id: str) -> None:
    """At a run's start: record the versions this kernel loaded before it."""
    if _session:
        _log(ws, run_id, list(_session), "preloaded")


def _log(ws: Workspace, run_id: str, entries: list[tuple[dict[str, Any], Any]], ctx: str) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    from . import store

    read = _read.setdefault(run_id, [])
    inputs = []
    changed = False
    for entry, schema in entries:
        same = next((e for e in read if e["md5"] == entry["md5"]), None)
        if same is not None:  # read again; a preloaded version used in the run is training data
            if ctx == "training" and same["context"] != "training":
                same["context"] = "training"
                changed = True
            continue
        read.append({**entry, "context": ctx})
        source = {"uri": f"dvc://{entry['path']}@{entry['commit'][:12]}", **entry}
        rows = entry.get("rows")
        dataset = Dataset(
            name=entry["ref"],
            digest=entry["md5"].removesuffix(".dir")[:36],
            source_type="dvc",
            source=json.dumps(source),
            schema=schema,
            profile=json.dumps({"num_rows": rows}) if rows is not None else None,
        )
        inputs.append(DatasetInput(dataset, [InputTag("mlflow.data.context", ctx)]))
    if not inputs and not changed:
        return
    client = store.connect(ws)
    if inputs:
        from mlflow.exceptions import MlflowException

        try:
            client.log_inputs(run_id, datasets=inputs)
        except MlflowException as exc:
            if "unique" not in str(exc).lower():  # SQLite: UNIQUE; PostgreSQL: unique
                raise
            # another process (a sweep's sibling run) recorded the same dataset a moment ago;
            # now that it exists, linking this run to it succeeds
            client.log_inputs(run_id, datasets=inputs)
    client.set_tag(run_id, TAG, json.dumps(read))


def shown(read: list[dict[str, Any]]) -> str:
    """The versions a run trained on (those it loaded), else those loaded before it."""
    training = [d["ref"] for d in read if d.get("context", "training") == "training"]
    return ", ".join(training or [d["ref"] for d in read])


def _schema(frame: Any) -> str | None:
    if frame is None or not hasattr(frame, "dtypes"):
        return None
    cols = [{"name": str(c), "type": _mlflow_type(str(t))} for c, t in frame.dtypes.items()]
    return json.dumps({"mlflow_colspec": cols})


def _mlflow_type(dtype: str) -> str:
    if dtype.startswith(("int", "Int", "uint", "UInt")):
        return "long"
    if dtype.startswith(("float", "Float")):
        return "double"
    if dtype in ("bool", "boolean"):
        return "boolean"
    if dtype.startswith("datetime"):
        return "datetime"
    return "string"


def graph(ref: str | None = None, direction: str = "both", project: Any = None) -> Any:
    """The project's lineage :class:`~.graph.Graph` (shown as a picture in a notebook).

    With ``ref`` (``features@v1``, a run, ``m/2``, an endpoint's name) only what it came from
    (``direction="up"``), what it reached (``"down"``) or both.
    """
    from . import graph as graphs

    found = graphs.build(project)
    if ref is None:
        return found
    walks = {"up": found.upstream, "down": found.downstream, "both": found.around}
    if direction not in walks:
        raise MlopsError(f"direction is one of up, down, both; not {direction!r}")
    return walks[direction](ref)


def read_by_run(tags: dict[str, str]) -> list[dict[str, Any]]:
    """The versions a run read (from its tags), those it trained on first."""
    read = json.loads(tags.get(TAG, "[]"))
    return sorted(read, key=lambda d: d.get("context", "training") != "training")
