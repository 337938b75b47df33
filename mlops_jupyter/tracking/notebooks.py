"""Parameterized notebook runs with papermill: one MLflow run per execution, sweeps in parallel.

The notebook runs in a fresh kernel that is handed the run (``MLFLOW_RUN_ID``), so whatever it
logs with ``mlflow`` and every dataset it loads land in that same run. The executed notebook is
kept as the run's artifact; a failing cell fails the run, named in one line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError, NotFoundError
from ..workspace import Workspace
from . import store, tracked

PARAMETERS_TAG = "parameters"
# Run first in every kernel a notebook run starts: seed the usual generators from the run, and
# leave the run for the runner to end (not MLflow's exit handler, before the runner is done).
KERNEL_START = [
    "from mlops_jupyter.tracking.tracked import leave_run_to_runner, seed_from_env; "
    "seed_from_env(); leave_run_to_runner()"
]


@dataclass(frozen=True)
class NotebookRun:
    """What one execution left: its run, status, executed notebook, and the error if any."""

    run_id: str
    name: str
    status: str
    params: dict[str, Any]
    output: str
    error: str | None = None

    def __str__(self) -> str:
        tail = f": {self.error}" if self.error else ""
        return f"run {self.name} ({self.run_id[:8]}) {self.status.lower()}{tail}"


def declared_parameters(path: Path) -> dict[str, Any] | None:
    """The parameters cell's names and default values; None when there is no such cell."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook is one message
        raise MlopsError(f"{path} is not a readable notebook ({exc})") from None
    cells = [c for c in nb.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return None
    import ast

    declared: dict[str, Any] = {}
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as exc:
            raise MlopsError(
                f"{path.name}: the parameters cell is not valid Python ({exc})"
            ) from None
        for node in tree.body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            for target in targets:
                if isinstance(target, ast.Name):
                    value = getattr(node, "value", None)
                    declared[target.id] = ast.unparse(value) if value is not None else None
    return declared


def check_notebook(path: str | os.PathLike[str], params: Mapping[str, Any]) -> Path:
    """The notebook's path, after checking it exists and declares every parameter given."""
    nb_path = Path(path)
    if not nb_path.is_file():
        raise NotFoundError(f"no notebook {path}; check the path (relative to {os.getcwd()})")
    declared = declared_parameters(nb_path)
    if params and declared is None:
        raise MlopsError(
            f"{nb_path.name} has no cell tagged 'parameters'; tag the cell that sets the defaults "
            "(in JupyterLab: the cell's property inspector, Common Tools > Cell Tags)"
        )
    unknown = sorted(set(params) - set(declared or {}))
    if unknown:
        raise MlopsError(
            f"{nb_path.name} does not declare {', '.join(unknown)} in its parameters cell "
            f"(it declares: {', '.join(declared or {}) or 'nothing'})"
        )
    return nb_path


@contextlib.contextmanager
def environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the duration of a block."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebook(
    notebook: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    name: str | None = None,
    seed: int | None = None,
    tags: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    progress: bool = False,
    raise_on_failure: bool = True,
    project: str | os.PathLike[str] | None = None,
) -> NotebookRun:
    """Execute ``notebook`` with papermill in a fresh kernel, as one MLflow run.

    A failing cell marks the run FAILED and raises :class:`MlopsError` naming the cell (or,
    with ``raise_on_failure=False``, returns a failed :class:`NotebookRun`). The kernel works in
    ``cwd`` (the notebook's folder by default).
    """
    import papermill as pm

    params = tracked.check_params(parameters)
    nb_path = check_notebook(notebook, params).resolve()
    ws = Workspace.find(project or nb_path.parent)
    declared = declared_parameters(nb_path) or {}
    run_name = name or nb_path.stem
    workdir = Path(cwd).resolve() if cwd else nb_path.parent
    with tracked.run(
        experiment=experiment,
        name=run_name,
        params=params,
        notebook=nb_path,
        seed=seed,
        kind="notebook",
        tags={"mlops.notebook": _shown(ws, nb_path), **(tags or {})},
        project=ws.root,
    ) as handle:
        given = dict(params)
        if "seed" in declared and "seed" not in given:
            given["seed"] = handle.seed  # the notebook takes a seed: pass the recorded one
        out_dir = ws.state_dir / "executed" / handle.id
        out_dir.mkdir(parents=True, exist_ok=True)
        output = out_dir / nb_path.name
        env = {
            "MLFLOW_RUN_ID": handle.id,
            "MLFLOW_TRACKING_URI": store.tracking_uri(ws),
            "MLFLOW_EXPERIMENT_ID": handle.experiment_id,
            "MLOPS_JUPYTER_NOTEBOOK": str(nb_path),
            "PYTHONHASHSEED": str(handle.seed % 2**32),
            tracked.ENV_SEED: str(handle.seed),
            tracked.ENV_PARENT: None,
            **(extra_env or {}),
        }
        error = None
        try:
            with environ(env):
                pm.execute_notebook(
                    str(nb_path),
                    str(output),
                    parameters=given,
                    cwd=str(workdir),
                    progress_bar=progress,
                    kernel_name="python3",  # the kernel of this environment
                    language="python",
                    log_output=False,
                    extra_arguments=[
                        "--IPKernelApp.log_level=ERROR",
                        f"--IPKernelApp.exec_lines={KERNEL_START!r}",
                    ],
                )
        except pm.PapermillExecutionError as exc:
            error = f"cell [{exc.exec_count}]: {exc.ename}: {_first(exc.evalue)}"
            handle.error = MlopsError(error)
        except Exception as exc:  # noqa: BLE001 - the kernel died or would not start
            error = f"the kernel failed: {tracked.error_line(exc)}"
            handle.error = MlopsError(error)
        finally:
            if output.exists():
                handle._client.log_artifact(handle.id, str(output), "executed")
    result = NotebookRun(handle.id, handle.name, handle.status, given, str(output), error)
    if error and raise_on_failure:
        raise MlopsError(
            f"{nb_path.name} failed in {error} (run {handle.name}, {handle.id[:8]}; "
            f"executed notebook: {output})"
        )
    return result


def _shown(ws: Workspace, path: Path) -> str:
    try:
        return ws.rel(path)
    except ValueError:
        return str(path)


def _first(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def expand_grid(sweep: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """``{"alpha": [0.1, 1], "fit": [True]}`` as the list of every combination."""
    keys = list(sweep)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*sweep.values())]


def parse_sweep(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["alpha=0.1,1,10"]`` as ``{"alpha": [0.1, 1, 10]}``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.isidentifier() or not values:
            raise MlopsError(f"sweep {item!r} should look like name=a,b,c")
        grid[key] = [tracked.parse_value(v) for v in values.split(",")]
    return grid


def _combo_name(nb_path: Path, combo: Mapping[str, Any]) -> str:
    return nb_path.stem + "-" + "-".join(f"{k}={v}" for k, v in combo.items())


def _start_worker(
    nb_path: Path,
    combo: Mapping[str, Any],
    experiment: str | None,
    parent: str,
    root: Path,
    name: str | None = None,
    cluster: Any = None,
) -> Any:
    """One execution in its own process (and session: a terminal's ^C reaches only us), or on
    a worker of ``cluster`` (a Dask client): a ``subprocess.Popen`` or a ``cluster.RemoteRun``."""
    name = name or _combo_name(nb_path, combo)
    command = [sys.executable, "-m", "mlops_jupyter.cli", "run", str(nb_path), "--json", "-q"]
    command += ["--parent", parent, "--name", name]
    for key, value in combo.items():
        command += ["-p", key, json.dumps(value) if not isinstance(value, str) else value]
    if experiment:
        command += ["--experiment", experiment]
    if cluster is not None:
        from .cluster import RemoteRun

        return RemoteRun(cluster, command, root, name)
    return subprocess.Popen(
        command,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _collect(proc: Any, combo: dict[str, Any], client: Any = None) -> NotebookRun:
    """The run a worker process made (tagged with the Dask worker that made it, if any)."""
    out, err = proc.communicate()
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            result = NotebookRun(**json.loads(line))
            if getattr(proc, "worker", "") and client is not None and result.run_id:
                client.set_tag(result.run_id, "mlops.worker", proc.worker)
            return result
    reason = (err.strip().splitlines() or ["the worker exited without a result"])[-1]
    return NotebookRun("", "", "FAILED", combo, "", reason)


@contextlib.contextmanager
def cluster_of(ws: Workspace, address: str | None) -> Iterator[Any]:
    """A Dask client of ``address`` (or the profile's ``cluster`` setting), closed after;
    None: runs stay local processes."""
    address = address or ws.settings.cluster
    if not address:
        yield None
        return
    from .cluster import connect, held_back_notice, quiet_client

    client = connect(address)
    notice = held_back_notice(os.environ)
    if notice:
        print(notice, file=sys.stderr)
    with quiet_client():  # closing a client whose scheduler went away logs tracebacks too
        try:
            yield client
        finally:
            client.close()


def sweep(
    notebook: str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    jobs: int = 2,
    progress: bool = True,
    project: str | os.PathLike[str] | None = None,
    cluster: str | None = None,
) -> list[NotebookRun]:
    """Run ``notebook`` for every combination of ``grid``, ``jobs`` worker processes at a time
    (on the workers of the Dask scheduler at ``cluster``, or of the ``cluster`` setting).

    Each execution is its own run, grouped under one parent run. An interrupted sweep keeps the
    finished runs, ends the running ones KILLED, and records the combinations that never
    started as KILLED runs.
    """
    from tqdm.auto import tqdm

    from .cluster import raise_if_lost

    base = tracked.check_params(parameters)
    combos = [{**base, **c} for c in expand_grid(grid)]
    if not combos:
        raise MlopsError("the sweep is empty; give at least one value per parameter")
    nb_path = check_notebook(notebook, combos[0]).resolve()
    ws = Workspace.find(project or nb_path.parent)
    results: list[NotebookRun] = []
    waiting = list(combos)
    running: list[tuple[Any, dict[str, Any]]] = []
    with (
        cluster_of(ws, cluster) as dask,
        tracked.run(
            experiment=experiment,
            name=f"{nb_path.stem}-sweep",
            params={"sweep": json.dumps({k: list(v) for k, v in grid.items()})},
            kind="sweep",
            project=ws.root,
        ) as parent,
    ):
        bar = tqdm(total=len(combos), desc=f"sweep {nb_path.stem}", disable=not progress)

        def collect(proc: Any, combo: dict[str, Any], client: Any = None) -> None:
            result = _collect(proc, combo, client)
            if getattr(proc, "lost", False):  # its scheduler went away: its run made, or not
                result = _child_named(parent, _combo_name(nb_path, combo)) or result
            results.append(result)
            if not result.run_id:
                not_run.append(combo)  # stopped before its run was made

        not_run: list[dict[str, Any]] = []
        try:
            while waiting or running:
                while waiting and len(running) < max(1, jobs):
                    combo = waiting.pop(0)
                    proc = _start_worker(nb_path, combo, experiment, parent.id, ws.root,
                                         cluster=dask)  # fmt: skip
                    running.append((proc, combo))
                for proc, combo in [r for r in running if r[0].poll() is not None]:
                    running.remove((proc, combo))
                    collect(proc, combo, parent._client)
                    raise_if_lost(proc)
                    bar.update(1)
                    bar.set_postfix_str(str(results[-1]), refresh=True)
                time.sleep(0.1)
        except BaseException:
            for proc, _ in running:  # each ends its own run KILLED and stops its kernel
                proc.send_signal(signal.SIGTERM)
            for proc, combo in running:
                collect(proc, combo)
            _mark_not_run(parent, not_run + waiting)
            raise
        finally:
            bar.close()
        if dask is not None:
            end_orphans(parent, results)
        failed = [r for r in results if r.status != "FINISHED"]
        parent.log_metric("runs_finished", len(results) - len(failed))
        parent.log_metric("runs_failed", len(failed))
    return results


def end_orphans(parent: tracked.Run, results: list[NotebookRun]) -> None:
    """Runs under ``parent`` still RUNNING that no result names: attempts whose process went
    with its Dask worker before it could end its run (Dask ran the combination again). They
    end KILLED, so that no run is left active."""
    kept = {r.run_id for r in results}
    found = parent._client.search_runs(
        [parent.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.id}' and attributes.status = 'RUNNING'",
    )
    for run in found:
        if run.info.run_id not in kept:
            parent._client.set_tag(run.info.run_id, "mlops.error", "its Dask worker died")
            parent._client.set_terminated(run.info.run_id, "KILLED")


def _child_named(parent: tracked.Run, name: str) -> NotebookRun | None:
    """The run called ``name`` under ``parent``, if one was made."""
    if "'" in name:  # not expressible in MLflow's filter: taken as not made
        return None
    found = parent._client.search_runs(
        [parent.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.id}' and attributes.run_name = '{name}'",
        max_results=1,
    )
    if not found:
        return None
    run = found[0]
    params = {k: tracked.parse_value(v) for k, v in run.data.params.items()}
    return NotebookRun(run.info.run_id, name, run.info.status, params, "", None)


def _mark_not_run(parent: tracked.Run, combos: list[dict[str, Any]]) -> None:
    """Record each combination an interrupted sweep never ran as a KILLED run."""
    from mlflow.entities import Param

    client = parent._client
    for combo in combos:
        made = client.create_run(
            parent.experiment_id,
            run_name="not-run-" + "-".join(f"{k}={v}" for k, v in combo.items()),
            tags={
                "mlflow.parentRunId": parent.id,
                "mlops.kind": "notebook",
                "mlops.error": "the sweep was interrupted before this run started",
            },
        )
        client.log_batch(made.info.run_id, params=[Param(k, str(v)) for k, v in combo.items()])
        client.set_terminated(made.info.run_id, "KILLED")
    if combos:
        print(
            f"sweep interrupted: {len(combos)} runs never started (marked KILLED)", file=sys.stderr
        )
