"""Searches, not only grids: Optuna picks each trial's parameters from the results so far.

``search(notebook, space, trials=30, metric="rmse")`` runs the notebook once per trial (papermill,
in worker processes as a sweep does), each trial one MLflow run under a parent run; the metric
the notebook logged is told to the study. Studies are kept in the ``optuna_storage`` database
(``.mlops/optuna.db``; a team's PostgreSQL in its profile), each under the name
``EXPERIMENT/NOTEBOOK/METRIC``: a search run again continues it.

A space is ``name=LOW:HIGH`` (floats; whole numbers on both ends: integers),
``name=LOW:HIGH:log`` (sampled on a log scale) or ``name=a,b,c`` (a choice).

Pruning: while a trial runs, the steps of the metric it logs (``mlflow.log_metric(metric, v,
step=k)``) are told to the study as they arrive. With ``prune="median"`` (the default) a trial
whose metric at a step (the second or later) is worse than the median of the finished trials' at
that step, once two have finished, is stopped: its run ends KILLED with the tag ``mlops.trial =
pruned at step K``, and its trial PRUNED. ``prune="none"`` lets every trial finish.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlopsError, first_line
from ..workspace import Workspace
from . import tracked
from .cluster import raise_if_lost
from .notebooks import (
    NotebookRun,
    _collect,
    _start_worker,
    check_notebook,
    cluster_of,
    end_orphans,
)

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "none")
POLL = 1.0  # seconds between looks at a running trial's metric


@dataclass(frozen=True)
class Dimension:
    """One parameter of a search: a range (``low``, ``high``, ``log``) or ``choices``."""

    name: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial: Any) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(self.name, self.low, self.high, log=self.log)
        low, high = float(self.low or 0), float(self.high or 0)  # a range has both ends
        return trial.suggest_float(self.name, low, high, log=self.log)


@dataclass
class SearchResult:
    """The trials a search ran, and the best of them."""

    runs: list[NotebookRun]
    values: list[float | None]  # the metric of each trial (None: it failed)
    best_params: dict[str, Any]
    best_value: float | None
    study: str
    pruned: int = 0  # trials stopped early

    def __str__(self) -> str:
        if self.best_value is None:
            return f"no trial of {self.study} finished with the metric"
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in self.best_params.items())  # fmt: skip
        pruned = f", {self.pruned} pruned" if self.pruned else ""
        return (f"best of {len(self.runs)} trials of {self.study}{pruned}: {shown} "
                f"({self.best_value:.4g})")  # fmt: skip


@dataclass
class _Running:
    """A trial being run: its worker process, and the steps of its metric told so far."""

    proc: Any
    trial: Any
    combo: dict[str, Any]
    name: str
    run_id: str | None = None
    step: int = -1  # the last step told to the study
    pruned_at: int | None = None

    def tell_steps(self, client: Any, experiment_id: str, parent: str, metric: str) -> None:
        """Report the steps of ``metric`` the run logged since the last look."""
        if self.run_id is None:
            # matched by name here, not in the filter: a name may hold any quote
            found = [
                run
                for run in client.search_runs(
                    [experiment_id], f"tags.mlflow.parentRunId = '{parent}'", max_results=1000
                )
                if run.info.run_name == self.name
            ]
            if not found:
                return  # not started yet
            self.run_id = found[0].info.run_id
        for point in sorted(client.get_metric_history(self.run_id, metric), key=lambda m: m.step):
            if point.step > self.step:
                self.trial.report(float(point.value), point.step)
                self.step = point.step

    def prune(self, client: Any) -> None:
        """Stop the run (its worker ends it KILLED) and say why on it."""
        self.pruned_at = self.step
        client.set_tag(self.run_id, "mlops.trial", f"pruned at step {self.step}")
        self.proc.send_signal(signal.SIGTERM)


def parse_space(items: list[str]) -> list[Dimension]:
    """``["alpha=0.001:10:log", "depth=2:8", "kind=ridge,lasso"]`` as dimensions."""
    dims = []
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier() or not text:
            raise MlopsError(f"search space {item!r}: use name=LOW:HIGH, name=LOW:HIGH:log or "
                             "name=a,b,c")  # fmt: skip
        if ":" in text:
            parts = text.split(":")
            log = len(parts) == 3 and parts[2] == "log"
            if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
                raise MlopsError(f"search space {item!r}: a range is LOW:HIGH or LOW:HIGH:log")
            low, high = (tracked.parse_value(p) for p in parts[:2])
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
                raise MlopsError(f"search space {item!r}: a range needs numbers at both ends")
            if not low < high or (log and low <= 0):
                rule = "0 < LOW < HIGH on a log scale" if log else "LOW < HIGH"
                raise MlopsError(f"search space {item!r}: needs {rule}")
            dims.append(Dimension(name, low, high, log))
        else:
            dims.append(Dimension(name, choices=tuple(tracked.parse_value(v)
                                                      for v in text.split(","))))  # fmt: skip
    if not dims:
        raise MlopsError("a search needs at least one dimension: --space NAME=LOW:HIGH")
    return dims


def storage_url(ws: Workspace) -> str:
    """Where studies are kept: the ``optuna_storage`` setting (a relative SQLite path is the
    project's)."""
    uri = ws.settings.optuna_storage
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        path = ws.resolve_setting(uri.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{path}"
    return uri


def search(
    notebook: str | os.PathLike[str],
    space: list[Dimension],
    trials: int,
    metric: str | None,
    minimize: bool = True,
    sampler: str = "tpe",
    parameters: dict[str, Any] | None = None,
    experiment: str | None = None,
    jobs: int = 1,
    seed: int | None = None,
    progress: bool = True,
    project: str | os.PathLike[str] | None = None,
    prune: str = "median",
    cluster: str | None = None,
) -> SearchResult:
    """Run ``trials`` trials of ``notebook`` chosen by ``sampler`` to minimize (or maximize)
    the ``metric`` each run logs; ``jobs`` trials at a time; ``prune`` stops trials whose
    steps fall behind (see the module's text); on the workers of the Dask scheduler at
    ``cluster`` (or of the ``cluster`` setting) if given. An interrupted search ends its
    running trials KILLED and keeps the finished ones (in the runs and the study)."""
    import optuna
    from tqdm.auto import tqdm

    if not metric:
        raise MlopsError("a search needs the metric it optimizes: --metric NAME (a logged one)")
    if sampler not in SAMPLERS:
        raise MlopsError(f"search {sampler!r}: use {' or '.join(SAMPLERS)}")
    if trials < 1:
        raise MlopsError(f"a search needs at least one trial, not {trials}")
    if prune not in PRUNERS:
        raise MlopsError(f"pruning {prune!r}: use {' or '.join(PRUNERS)}")
    base = tracked.check_params(parameters)
    nb_path = check_notebook(notebook, {**base, **{d.name: 0 for d in space}}).resolve()
    ws = Workspace.find(project or nb_path.parent)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # the notebook's path in the project: two notebooks of one file name are two studies
    where = os.path.splitext(ws.rel(nb_path))[0] if nb_path.is_relative_to(ws.root) else nb_path
    name = f"{experiment or 'Default'}/{where}/{metric}"
    chosen = (optuna.samplers.TPESampler(seed=seed) if sampler == "tpe"
              else optuna.samplers.RandomSampler(seed=seed))  # fmt: skip
    # from the second step on: a metric logged once (at the end) is never pruned
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
              if prune == "median" else optuna.pruners.NopPruner())  # fmt: skip
    url = storage_url(ws)
    try:
        study = optuna.create_study(
            study_name=name,
            storage=url,
            sampler=chosen,
            pruner=pruner,
            direction="minimize" if minimize else "maximize",
            load_if_exists=True,
        )
    except ValueError as e:  # a study of the other direction under that name
        raise MlopsError(f"study {name}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a database that cannot be opened: any driver error
        raise MlopsError(
            f"the searches' database ({url}; setting optuna_storage) could not be opened: "
            f"{first_line(e)}"
        ) from None
    runs: list[NotebookRun] = []
    values: list[float | None] = []
    running: list[_Running] = []
    pruned = 0
    spec = {d.name: (list(d.choices) if d.choices else [d.low, d.high, "log" if d.log else ""])
            for d in space}  # fmt: skip
    with cluster_of(ws, cluster) as dask, tracked.run(
        experiment=experiment,
        name=f"{nb_path.stem}-search",
        params={"search": json.dumps(spec), "sampler": sampler, "metric": metric,
                "direction": study.direction.name.lower()},
        kind="search",
        project=ws.root,
    ) as parent:  # fmt: skip
        client = parent._client
        experiment_id = client.get_run(parent.id).info.experiment_id
        bar = tqdm(total=trials, desc=f"search {nb_path.stem}", disable=not progress)
        started, looked = 0, time.monotonic()
        try:
            while started < trials or running:
                while started < trials and len(running) < max(1, jobs):
                    trial = study.ask()
                    combo = {**base, **{d.name: d.suggest(trial) for d in space}}
                    run_name = f"{nb_path.stem}-trial-{trial.number}"
                    proc = _start_worker(nb_path, combo, experiment, parent.id, ws.root,
                                         run_name, dask)  # fmt: skip
                    running.append(_Running(proc, trial, combo, run_name))
                    started += 1
                if prune != "none" and time.monotonic() - looked >= POLL:
                    looked = time.monotonic()
                    for item in running:
                        if item.pruned_at is None and item.proc.poll() is None:
                            item.tell_steps(client, experiment_id, parent.id, metric)
                            if item.step >= 0 and item.trial.should_prune():
                                item.prune(client)
                for item in [r for r in running if r.proc.poll() is not None]:
                    running.remove(item)
                    result = _collect(item.proc, item.combo, client)
                    raise_if_lost(item.proc)
                    value = None
                    if item.pruned_at is not None:
                        result = NotebookRun(item.run_id or "", item.name, "KILLED", item.combo,
                                             "", f"pruned at step {item.pruned_at}")  # fmt: skip
                        study.tell(item.trial, state=optuna.trial.TrialState.PRUNED)
                        pruned += 1
                    else:
                        value = _metric(client, result, metric)
                        if result.run_id and prune != "none":  # the steps the pruner compares
                            item.run_id = result.run_id
                            item.tell_steps(client, experiment_id, parent.id, metric)
                        if value is None:
                            study.tell(item.trial, state=optuna.trial.TrialState.FAIL)
                        else:
                            study.tell(item.trial, value)
                    runs.append(result)
                    values.append(value)
                    bar.update(1)
                    bar.set_postfix_str(str(result), refresh=True)
                time.sleep(0.1)
        except BaseException:
            for item in running:  # each worker ends its own run KILLED
                item.proc.send_signal(signal.SIGTERM)
            for item in running:
                runs.append(_collect(item.proc, item.combo))
                values.append(None)
                study.tell(item.trial, state=optuna.trial.TrialState.FAIL)
            raise
        finally:
            bar.close()
        if dask is not None:
            end_orphans(parent, runs)
        result = _best(study, runs, values, name, pruned)
        if result.best_value is not None:
            parent.log_metric(f"best_{metric}", result.best_value)
            best = {f"best.{k}": v for k, v in result.best_params.items()}
            client.log_batch(parent.id, params=_params(best))
    return result


def _metric(client: Any, run: NotebookRun, metric: str) -> float | None:
    """The last value of ``metric`` a finished run logged (None: failed, or never logged)."""
    if run.status != "FINISHED" or not run.run_id:
        return None
    value = client.get_run(run.run_id).data.metrics.get(metric)
    return None if value is None else float(value)


def _best(study: Any, runs: list[NotebookRun], values: list[float | None], name: str,
          pruned: int) -> Any:  # fmt: skip
    finished = [v for v in values if v is not None]
    if not finished and not pruned:  # every trial failed
        return SearchResult(runs, values, {}, None, name, pruned)
    if not any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        return SearchResult(runs, values, {}, None, name, pruned)
    best = study.best_trial  # over every search of this study, earlier ones too
    return SearchResult(runs, values, dict(best.params), float(best.value), name, pruned)


def _params(values: dict[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)) for k, v in values.items()]


def study_of(notebook: str | os.PathLike[str], metric: str, experiment: str | None = None,
             project: str | os.PathLike[str] | None = None) -> Any:  # fmt: skip
    """The Optuna study the searches of ``notebook`` for ``metric`` (in ``experiment``) share."""
    import optuna

    nb_path = Path(notebook).resolve()
    ws = Workspace.find(project or nb_path.parent)
    # the notebook's path in the project: two notebooks of one file name are two studies
    where = os.path.splitext(ws.rel(nb_path))[0] if nb_path.is_relative_to(ws.root) else nb_path
    name = f"{experiment or 'Default'}/{where}/{metric}"
    try:
        return optuna.load_study(study_name=name, storage=storage_url(ws))
    except KeyError:
        raise MlopsError(
            f"no search of {nb_path.name} for {metric} in {experiment or 'Default'} yet"
        ) from None
