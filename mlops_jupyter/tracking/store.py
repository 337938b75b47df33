"""Where runs are kept: the project's MLflow store, embedded (SQLite) unless told otherwise.

The embedded default needs no server: a SQLite file and an artifact folder under the project's
state folder. ``MLFLOW_TRACKING_URI``, or the ``mlflow_tracking_uri`` setting (a profile's, for a
team), points at a tracking server instead: it is probed once per process before first use
(see :mod:`.remote`), and run ends that an outage kept on disk are written then (:mod:`.pending`).
Everything written is an ordinary MLflow run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import MlopsError, NotFoundError, close_matches
from ..workspace import Workspace
from . import pending, remote

_ready: set[str] = set()
NOISY_LOGGERS = (
    "mlflow.store.db.utils",
    "alembic.runtime.migration",
    "mlflow.tracking._model_registry.fluent",
)


def tracking_uri(ws: Workspace) -> str:
    """The store's URI; a relative SQLite path is made absolute against the project root.

    ``MLFLOW_TRACKING_URI`` wins when the user (or a runner) set it.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI") or ws.settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str(ws.resolve_setting(uri.removeprefix("sqlite:///")))
    elif "://" not in uri and not uri.startswith("databricks"):
        uri = str(ws.resolve_setting(uri))  # a plain folder: MLflow's file store
    return uri


def is_embedded(uri: str) -> bool:
    return uri.startswith("sqlite:")


def artifact_root(ws: Workspace) -> str:
    """Where the embedded store's experiments keep their artifacts (a ``file://`` URI)."""
    return ws.resolve_setting(ws.settings.mlflow_artifacts).as_uri()


def connect(ws: Workspace) -> Any:
    """An ``MlflowClient`` on the project's store, set as MLflow's current store too.

    On first use the embedded SQLite store is created with write-ahead logging (so several
    notebooks can log at once) and its Default experiment keeps artifacts inside the project;
    a tracking server is probed (:class:`~.remote.StoreUnavailable` when it cannot be used).
    """
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri(ws)
    if ws.settings.s3_endpoint_url:  # artifacts an experiment keeps in S3-compatible storage
        os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", ws.settings.s3_endpoint_url)
    if remote.is_server(uri):
        remote.short_retries()
    first = uri not in _ready
    if first:
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
        if is_embedded(uri):
            _create_embedded(ws, uri)
        elif remote.is_server(uri):
            remote.probe(uri)
        _ready.add(uri)
    if mlflow.get_tracking_uri() != uri or mlflow.get_registry_uri() != uri:
        before = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        # MLflow also copies the URI into MLFLOW_TRACKING_URI, where it would outrank the
        # settings of the next project this process opens: put the variable back as it was.
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before
    client = MlflowClient(uri, registry_uri=uri)
    if first:
        settle_pending(ws, client, uri)
    return client


def forget(uri: str) -> None:
    """Probe the store at ``uri`` again on the next connection (it failed meanwhile)."""
    _ready.discard(uri)


def embedded_alias(uri: str, model: str, alias: str) -> str | None:
    """The version ``model@alias`` names in the embedded store at ``uri``, read with one SQLite
    query: endpoints ask every 2 s, and MLflow's SQLAlchemy store costs 2-3 s to load in each
    of their processes. None when the query cannot tell (the client's answer is needed then)."""
    if not is_embedded(uri):
        return None
    path = uri.removeprefix("sqlite:///")
    query = "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute(query, (model, alias)).fetchall()
    except sqlite3.Error:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def settle_pending(ws: Workspace, client: Any, uri: str) -> list[str]:
    """Write the run ends an outage kept on disk, now that the store answers; their run ids."""
    try:
        return pending.settle(ws, client, uri)
    except Exception as exc:  # noqa: BLE001 - still down: they wait for the next connection
        if remote.explain(exc, uri) is None:
            raise
        forget(uri)
        return []


def _create_embedded(ws: Workspace, uri: str) -> None:
    """Create the SQLite store beside its final name, then move it in place atomically.

    Several notebooks may start at once: exactly one store wins, and nobody ever opens a file
    whose tables are half made. MLflow's schema migrations take seconds, so an empty store is
    made once per MLflow version in the user's cache and copied from there.
    """
    path = Path(uri.removeprefix("sqlite:///"))
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(_template(), tmp)
        with contextlib.closing(sqlite3.connect(tmp)) as db, db:
            db.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                (f"{artifact_root(ws)}/0",),
            )
        os.link(tmp, path)  # fails if another process got there first: theirs is as good
    except FileExistsError:
        pass
    except Exception as exc:  # noqa: BLE001 - nothing half-made stays behind
        raise MlopsError(f"could not create the MLflow store at {path}: {exc}") from None
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


def _template() -> Path:
    """An empty, migrated MLflow SQLite store (write-ahead logging on) for this MLflow version."""
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops-jupyter"
    template = cache / f"mlflow-{mlflow.__version__}.db"
    if template.exists():
        return template
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{template.name}.{os.getpid()}.tmp"
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:  # WAL is kept by the file
            db.execute("PRAGMA journal_mode=WAL")
        made = SqlAlchemyStore("sqlite:///" + str(tmp), (cache / "unused").as_uri())
        made.engine.dispose()
        os.replace(tmp, template)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
    return template


def experiment_id(ws: Workspace, client: Any, name: str | None, create: bool = True) -> str:
    """The id of experiment ``name`` (the active one, else Default, when None)."""
    import mlflow

    if name is None:
        active = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if active:
            return active
        env_name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
        if not env_name:
            from mlflow.tracking.fluent import _active_experiment_id

            return _active_experiment_id or "0"
        name = env_name
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            raise MlopsError(
                f"experiment {name!r} was deleted; restore it (`mlflow experiments restore`) "
                "or pick another name"
            )
        return str(exp.experiment_id)
    if not create:
        names = [e.name for e in client.search_experiments()]
        raise NotFoundError(f"no experiment {name!r}; {close_matches(name, names)}")
    location = None
    if is_embedded(tracking_uri(ws)):
        location = f"{artifact_root(ws)}/{_slug(name)}"
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except mlflow.exceptions.MlflowException as exc:
        # another process won the race (SQLite says UNIQUE, PostgreSQL unique)
        if "already exists" in str(exc) or "unique" in str(exc).lower():
            return str(client.get_experiment_by_name(name).experiment_id)
        raise


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "experiment"
