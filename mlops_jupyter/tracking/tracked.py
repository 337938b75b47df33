"""One tracked run: an ordinary MLflow run that records everything needed to compare and redo it.

>>> with tracking.run(experiment="temps", params={"alpha": 0.5}, code=source) as run:
...     run.log_metric("rmse", 1.2)

Recorded at the start (so a crash keeps them): parameters, the code and notebook snapshot, the
git commit and whether the tree was dirty, Python and the installed packages, the seed. Metrics
logged through the handle are batched. A body that raises ends the run FAILED with the error
recorded; an interrupt ends it KILLED; no run is ever left active.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..workspace import Workspace
from . import environment, lineage, pending, remote, store
from .redact import redact

PLAIN = (str, int, float, bool)
BATCH = 1000  # MLflow's limit of metrics per log_batch call
FLUSH_SECONDS = 2.0
ENV_PARENT = "MLOPS_JUPYTER_PARENT_RUN"
ENV_SEED = "MLOPS_JUPYTER_SEED"


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters must be plain values (strings, numbers, booleans) to be logged and replayed."""
    checked: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if not isinstance(key, str) or not key:
            raise MlopsError(f"parameter name {key!r} must be a non-empty string")
        if value is not None and not isinstance(value, PLAIN):
            raise MlopsError(
                f"parameter {key!r} is a {type(value).__name__}; parameters must be plain values "
                "(strings, numbers, booleans): pass a file path or a dataset name instead"
            )
        checked[key] = value
    return checked


def parse_value(text: str) -> Any:
    """``k=v`` values as a data scientist means them: numbers, booleans, None, else a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text[:1] in "[{(":
        raise MlopsError(
            f"parameter value {text!r} is not a plain value; give a number, a string or a boolean"
        )
    return text


def parse_assignments(items: list[str] | None) -> dict[str, Any]:
    """``["alpha=0.5", "model=ridge"]`` as ``{"alpha": 0.5, "model": "ridge"}``."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise MlopsError(f"parameter {item!r} should look like name=value (name an identifier)")
        params[key.strip()] = parse_value(value)
    return params


def seed_everything(seed: int) -> None:
    """Seed the generators the usual libraries draw from (those already imported)."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    if "torch" in sys.modules:  # pragma: no cover - torch is not installed here
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:  # pragma: no cover
        sys.modules["tensorflow"].random.set_seed(seed)


def seed_from_env() -> None:
    """In a kernel a runner started: seed random and numpy from the run's recorded seed."""
    value = os.environ.get(ENV_SEED)
    if not value:
        return
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401 - imported so that its global generator gets seeded
    seed_everything(int(value))


def leave_run_to_runner() -> None:
    """In a kernel a runner started: the run is the runner's to end, not MLflow's at exit.

    MLflow ends the active run FINISHED when the process exits; the kernel exits before the
    runner has logged the executed notebook and ended the run (FINISHED, FAILED or KILLED),
    and a run shown FINISHED meanwhile could still end otherwise. Once the notebook has
    imported MLflow, an exit handler that runs before MLflow's takes the run off its stack.
    """
    from IPython import get_ipython

    shell = get_ipython()
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if shell is None or not run_id:
        return

    def release() -> None:
        fluent = sys.modules["mlflow.tracking.fluent"]
        stack = fluent._active_run_stack.get()
        stack[:] = [run for run in stack if run.info.run_id != run_id]

    def after_cell(*_: Any) -> None:
        if "mlflow.tracking.fluent" in sys.modules:  # its exit handler is registered: ours after
            import atexit

            atexit.register(release)
            shell.events.unregister("post_run_cell", after_cell)

    shell.events.register("post_run_cell", after_cell)


@dataclass
class Run:
    """The handle a tracked body gets: its ids, and fast metric logging."""

    id: str
    name: str
    experiment_id: str
    seed: int
    params: dict[str, Any]
    _client: Any = field(repr=False)
    _pending: list[Any] = field(default_factory=list, repr=False)
    _last_flush: float = field(default_factory=time.monotonic, repr=False)
    status: str = "RUNNING"
    error: BaseException | None = None

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Queue one metric point; points are written in batches (at most 2 s late)."""
        from mlflow.entities import Metric

        self._pending.append(Metric(key, float(value), int(time.time() * 1000), int(step or 0)))
        if len(self._pending) >= BATCH or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def flush(self) -> None:
        """Write the queued metric points now."""
        while self._pending:  # a chunk leaves the queue only once written
            self._client.log_batch(self.id, metrics=self._pending[:BATCH], synchronous=True)
            del self._pending[:BATCH]
        self._last_flush = time.monotonic()

    @property
    def short_id(self) -> str:
        return self.id[:8]


_current: list[Run] = []


def current() -> Run | None:
    """The innermost tracked run of this process, if any."""
    return _current[-1] if _current else None


@contextlib.contextmanager
def run(
    experiment: str | None = None,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    code: str | None = None,
    history: list[str] | None = None,
    notebook: str | os.PathLike[str] | None = None,
    cells: list[Any] | None = None,
    seed: int | None = None,
    autolog: bool = False,
    kind: str = "cell",
    tags: Mapping[str, str] | None = None,
    project: str | os.PathLike[str] | None = None,
) -> Iterator[Run]:
    """Run the body as one MLflow run in the project's store; see the module docstring."""
    import mlflow
    from mlflow.entities import Param, RunTag

    params = check_params(params)
    ws = Workspace.find(project)
    client = store.connect(ws)
    exp_id = store.experiment_id(ws, client, experiment)
    seed = int.from_bytes(os.urandom(4), "big") >> 1 if seed is None else int(seed)
    notebook_file = Path(notebook) if notebook else None
    git_state = environment.git_state(ws.root)
    all_tags = {
        "mlflow.source.type": "NOTEBOOK",
        "mlflow.source.name": str(notebook_file or "cell"),
        "mlops.kind": kind,
        "mlops.seed": str(seed),
        "mlops.python": environment.python()["version"],
        "mlops.project": str(ws.root),
        "mlops.cwd": _relative_cwd(ws),
        **{f"mlflow.source.git.{k}": v for k, v in git_state.items() if k != "dirty"},
        "mlops.git.dirty": git_state.get("dirty", "unknown"),
        **(tags or {}),
    }
    active = mlflow.active_run()
    parent = active.info.run_id if active else os.environ.get(ENV_PARENT)
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    if active is None and os.environ.get("MLFLOW_RUN_ID"):
        # A runner's kernel: start_run() would resume the runner's run, so create ours first.
        made = client.create_run(exp_id, run_name=name, tags=all_tags)
        started = mlflow.start_run(run_id=made.info.run_id)
    else:
        started = mlflow.start_run(
            experiment_id=exp_id, run_name=name, nested=active is not None, tags=all_tags
        )
    handle = Run(
        id=started.info.run_id,
        name=started.info.run_name,
        experiment_id=exp_id,
        seed=seed,
        params=params,
        _client=client,
    )
    status, error = "FAILED", None
    try:
        client.log_batch(
            handle.id,
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag("mlops.params", json.dumps(params))],
            synchronous=True,
        )
        if not ws.settings.flag("track_history"):
            history = None
        _log_snapshot(code, history, notebook_file)
        _log_cell_order(client, handle.id, cells, notebook_file)
        lineage.start(ws, handle.id)
        if autolog:
            mlflow.autolog(silent=True, log_models=True, log_input_examples=True)
        seed_everything(seed)
        _current.append(handle)
        yield handle
        error = handle.error  # the body may report its failure instead of raising
        status = "FINISHED" if error is None else _failed(error)
    except BaseException as exc:
        status, error = _failed(exc), exc
        raise
    finally:
        if _current and _current[-1] is handle:
            _current.pop()
        if autolog:
            mlflow.autolog(disable=True, silent=True)
        handle.status = status
        _finish(ws, client, handle, status, error)


_stopping = False  # the process was told to stop (SIGTERM): its runs end KILLED


def stop_requested() -> None:
    """Mark this process as stopping: a run ending from now on ends KILLED, whatever error the
    stop caused on its way out (a kernel client interrupted mid-reply fails otherwise)."""
    global _stopping
    _stopping = True


def end_killed_now() -> None:
    """End this process's active runs KILLED at once, from any thread: the last resort of a
    stop that does not finish."""
    for handle in list(_current):
        with contextlib.suppress(Exception):  # the store is gone too: the run stays as it was
            handle._client.set_terminated(handle.id, "KILLED")


def _failed(exc: BaseException) -> str:
    return "KILLED" if _stopping or isinstance(exc, KeyboardInterrupt) else "FAILED"


def _finish(
    ws: Workspace, client: Any, handle: Run, status: str, error: BaseException | None
) -> None:
    """Write the run's end: its error, the queued metric points, its status.

    If the store fails meanwhile (a server or its database down), the end is kept on disk and
    written when the store answers again; the run is no longer active here either way.
    """
    import mlflow

    uri = store.tracking_uri(ws)
    outage = remote.explain(error, uri) if error is not None else None
    try:
        if outage is None:
            if error is not None:
                _record_error(client, handle.id, error)
            handle.flush()
            mlflow.end_run(status)  # leaves the run inactive here even if the store fails
            return
    except Exception as exc:
        outage = remote.explain(exc, uri)
        if outage is None:
            raise
    finally:
        _release(handle)
    line = None
    if error is not None:  # the body's own failure, or the outage it ran into, as one line
        line = str(remote.explain(error, uri) or _error_text(error))
    pending.keep(ws, uri, handle.id, status, line, handle._pending)
    store.forget(uri)  # the next connection probes the store again, and writes what was kept
    what = f"{len(handle._pending)} unwritten metric points and its status {status}"
    raise remote.StoreUnavailable(
        f"{outage}. Run {handle.short_id} keeps {what} in {ws.rel(pending.folder(ws))}; they "
        "are written when the store answers again"
    ) from None


def _release(handle: Run) -> None:
    """End the run in this process only (the store cannot be told now)."""
    from mlflow.tracking import fluent

    stack = fluent._active_run_stack.get()
    if stack and stack[-1].info.run_id == handle.id:
        stack.pop()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    return str(exc) if isinstance(exc, MlopsError) else error_line(exc)


def _record_error(client: Any, run_id: str, exc: BaseException) -> None:
    client.set_tag(run_id, "mlops.error", _error_text(exc))
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    client.log_text(run_id, text, "error.txt")


def _relative_cwd(ws: Workspace) -> str:
    try:
        return Path.cwd().resolve().relative_to(ws.root).as_posix()
    except ValueError:
        return "."


def error_line(exc: BaseException) -> str:
    """``TypeError: unsupported operand ...``, on one line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _log_snapshot(code: str | None, history: list[str] | None, notebook: Path | None) -> None:
    """The code, the notebook and the environment, as the run's artifacts (one copy)."""
    import mlflow

    folder = Path(tempfile.mkdtemp(prefix="mlops-run-"))
    try:
        if code is not None:  # secrets typed into cells do not travel with the run
            (folder / "code").mkdir()
            (folder / "code" / "cell.py").write_text(redact(code), encoding="utf-8")
            if history:
                kept = [redact(cell) for cell in history]
                (folder / "code" / "history.json").write_text(json.dumps(kept), "utf-8")
        if notebook is not None and notebook.is_file():
            (folder / "code").mkdir(exist_ok=True)
            shutil.copyfile(notebook, folder / "code" / notebook.name)
        (folder / "environment").mkdir()
        (folder / "environment" / "requirements.txt").write_text(environment.requirements())
        info = {**environment.python(), "executable": sys.executable}
        (folder / "environment" / "python.json").write_text(json.dumps(info, indent=1))
        mlflow.log_artifacts(str(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _log_cell_order(client: Any, run_id: str, ran: list[Any] | None,
                    notebook: Path | None) -> None:  # fmt: skip
    """Tag a cell's run linear or non-linear (``mlops.cells``, the reasons in
    ``mlops.cells.why``), when its notebook is known (a runner's kernel runs it in order)."""
    from . import cells

    if ran is None or os.environ.get("MLOPS_JUPYTER_NOTEBOOK"):
        return
    found = cells.order(ran, notebook)
    if found is None:
        return
    client.set_tag(run_id, "mlops.cells", "linear" if found.linear else "non-linear")
    if not found.linear:
        client.set_tag(run_id, "mlops.cells.why", "; ".join(found.reasons)[:5000])


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric to the current tracked run (batched), or to MLflow's active run."""
    handle = current()
    if handle is not None:
        handle.log_metric(key, value, step)
        return
    import mlflow

    mlflow.log_metric(key, value, step=step)
