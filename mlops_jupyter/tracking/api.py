"""Runs, comparisons and the registry as plain functions over the project's MLflow store.

Every function takes ``project`` (any folder inside the project; the current directory by
default) and raises :class:`~mlops_jupyter.errors.MlopsError` with a message a user can act on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import MlopsError, first_line
from ..workspace import Workspace
from . import lineage, names, registry, store

PathLike = str | os.PathLike[str]


def client(project: PathLike | None = None) -> Any:
    """An ``MlflowClient`` on the project's store (MLflow's current store is set to it too)."""
    return store.connect(Workspace.find(project))


def get_run(ref: str, project: PathLike | None = None) -> Any:
    """The MLflow ``Run`` that ``ref`` names: short id, run name, ``M@alias``, ``M/3``."""
    return names.find_run(client(project), ref)


def runs(
    experiment: str | None = None,
    filter: str = "",
    order_by: Iterable[str] = ("start_time DESC",),
    max_results: int = 100,
    project: PathLike | None = None,
    page_token: str | None = None,
) -> Any:
    """A DataFrame of runs (newest first), filtered with MLflow's search syntax.

    ``frame.attrs["more"]`` is True when more runs match than were returned;
    ``frame.attrs["token"]`` is then the ``page_token`` of the next page.
    """
    c = client(project)
    ws = Workspace.find(project)
    if experiment is None:
        ids = names.experiment_ids(c)
    else:
        ids = [store.experiment_id(ws, c, experiment, create=False)]
    from mlflow.exceptions import MlflowException

    try:
        page = c.search_runs(
            ids, filter, max_results=max_results, order_by=list(order_by), page_token=page_token
        )
    except MlflowException as exc:
        raise MlopsError(f"bad run filter or order: {first_line(exc.message)}") from None
    frame = runs_frame(page)
    frame.attrs["more"] = bool(page.token)
    frame.attrs["token"] = page.token
    return frame


def runs_frame(found: Iterable[Any]) -> Any:
    """Runs as rows: id, name, status, times, then params.* and metrics.* columns."""
    import pandas as pd

    rows, ids = [], []
    for run in found:
        info, data = run.info, run.data
        ids.append(info.run_id)
        end = info.end_time or None
        read = lineage.read_by_run(data.tags)
        row: dict[str, Any] = {
            "run": info.run_id[:8],
            "name": info.run_name,
            "status": info.status,
            "started": pd.Timestamp(info.start_time, unit="ms"),
            "seconds": (end - info.start_time) / 1000 if end else None,
            "data": lineage.shown(read),
        }
        row.update({f"params.{k}": _number(v) for k, v in sorted(data.params.items())})
        row.update({f"metrics.{k}": v for k, v in sorted(data.metrics.items())})
        if "mlops.error" in data.tags:
            row["error"] = data.tags["mlops.error"]
        if "mlops.cells" in data.tags:  # linear or non-linear: see tracking.cells
            row["cells"] = data.tags["mlops.cells"]
        rows.append(row)
    base = ["run", "name", "status", "started", "seconds", "data"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    extra = [c for c in frame.columns if c not in base]
    ordered = sorted(extra, key=lambda c: (not c.startswith("metrics."), c))
    frame = frame[base + ordered]
    frame.attrs["ids"] = ids  # the whole run ids, row by row
    return frame


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def compare(refs: Iterable[str], project: PathLike | None = None) -> Any:
    """Parameters, metrics and data versions of runs side by side (one column per run)."""
    import pandas as pd

    c = client(project)
    found = names.find_runs(c, list(refs))
    if len(found) < 2:
        raise MlopsError("name at least two runs to compare")
    columns = {}
    for run in found:
        data = run.data
        read = lineage.read_by_run(data.tags)
        values: dict[str, Any] = {"status": run.info.status}
        values.update({f"params.{k}": v for k, v in data.params.items()})
        values.update({f"metrics.{k}": v for k, v in data.metrics.items()})
        values["data"] = lineage.shown(read)
        values["git commit"] = data.tags.get("mlflow.source.git.commit", "")[:10]
        columns[f"{run.info.run_name} ({run.info.run_id[:8]})"] = values
    frame = pd.DataFrame(columns)
    differs = frame.apply(lambda row: len({repr(v) for v in row}) > 1, axis=1)
    frame.insert(0, "field", frame.index)
    frame["differs"] = differs.map({True: "changed", False: ""})
    frame = frame.reset_index(drop=True)
    frame.attrs["status_column"] = "differs"
    return frame


def metric_history(refs: Iterable[str], project: PathLike | None = None) -> Any:
    """Every logged point of every metric of the runs: run, metric, step, value, time."""
    import pandas as pd

    c = client(project)
    rows = []
    for ref in refs:
        run = names.find_run(c, ref)
        label = f"{run.info.run_name} ({run.info.run_id[:8]})"
        for key in run.data.metrics:
            for m in c.get_metric_history(run.info.run_id, key):
                rows.append((label, key, m.step, m.value, m.timestamp))
    return pd.DataFrame(rows, columns=["run", "metric", "step", "value", "timestamp"])


def register(run: str, name: str, alias: str | None = None, project: PathLike | None = None) -> Any:
    """Register the model run ``run`` logged as the next version of ``name`` (and alias it)."""
    return registry.register(client(project), run, name, alias)


def promote(
    ref: str,
    alias: str,
    project: PathLike | None = None,
    gate: Any = None,
    data: str | None = None,
    target: str | None = None,
    force: bool = False,
    gated: Any = None,
) -> Any:
    """Point ``alias`` at the version ``ref`` names: ``promote("temps@challenger", "champion")``.

    With ``gate`` (see :func:`validate`), the version is first checked against the one that
    holds ``alias`` now, on dataset version ``data``; a failed gate refuses the promotion with
    one line unless ``force``. The verdict is logged on the candidate's run either way.
    ``gated``: a :class:`~.gate.GateResult` reached already. With either, the alias moves only
    if it still points at the version the gate measured (a person or another watcher may have
    promoted meanwhile): otherwise one line, and nothing moves.
    """
    from .. import git as gitcmd

    c = client(project)
    if gate:
        if not data:
            raise MlopsError("a gate needs held-out data: --data DATASET@vN (and --target COLUMN)")
        current = registry.holder(c, ref, alias)
        gated = validate(ref, current, gate, data, target, project)
    if gated is None:
        return registry.promote(c, ref, alias)
    if not gated.passed and not force:
        raise MlopsError(f"{gated}; promote anyway with --force")
    if gate:
        print(gated if gated.passed else f"{gated} (promoted anyway: --force)")
    with gitcmd.locked(Workspace.find(project).root):
        return registry.promote_if_held(c, ref, alias, gated.baseline)


def validate(
    candidate: str,
    baseline: str | None,
    thresholds: Any,
    data: Any,
    target: str | None = None,
    project: PathLike | None = None,
    data_name: str | None = None,
) -> Any:
    """Model version ``candidate`` against ``baseline`` (``M/4``, ``M@champion``; None: the
    thresholds alone) on ``data``: a dataset version (``temps@v3``) or a DataFrame, ``target``
    its true values. ``thresholds``: ``["rmse+5%", "rmse<=2.5"]`` or ``{"rmse":
    mlflow.models.MetricThreshold(...)}``. Returns a :class:`~.gate.GateResult` (``passed``,
    one line as text), also logged on the candidate's run. ``data_name``: what the verdict
    calls a DataFrame's rows."""
    from . import gate

    name = data_name or "the data given"
    if isinstance(data, str):  # read, not recorded: held-out data is no run's input
        from ..datasets import api as datasets_api
        from ..datasets import catalog

        version = catalog.resolve(Workspace.find(project), data)
        name, data = data, datasets_api.load_version(version, project)
    return gate.validate(client(project), candidate, baseline, thresholds, data, target, name)


def models(name: str | None = None, project: PathLike | None = None) -> Any:
    """The registry as a DataFrame: versions, aliases, and the run, metrics and data behind each."""
    return registry.models_table(client(project), name)


def log_model(model: Any, input_example: Any = None, name: str = "model", **kwargs: Any) -> Any:
    """Log ``model`` to the active run with its signature and input example, quickly.

    Picks the MLflow flavor from the model's library (scikit-learn, else a generic Python
    model) and pins that flavor's requirements from this environment instead of inferring them
    (inference starts a process and takes seconds).
    """
    import mlflow

    module = type(model).__module__.split(".")[0]
    if module == "sklearn":
        flavor: Any = mlflow.sklearn
    elif isinstance(model, mlflow.pyfunc.PythonModel):
        flavor = mlflow.pyfunc
        kwargs.setdefault("python_model", model)
    else:
        raise MlopsError(
            f"no MLflow flavor picked for a {type(model).__name__}; log it with "
            "mlflow.<flavor>.log_model (e.g. mlflow.xgboost.log_model)"
        )
    if mlflow.active_run() is None and os.environ.get("MLFLOW_RUN_ID"):
        # a notebook run's kernel: log into its run, as mlflow.log_metric would (MLflow 3 logs
        # a model with no run at all otherwise, which no one can register from the run)
        mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"])
    kwargs.setdefault("pip_requirements", flavor.get_default_pip_requirements())
    if module == "sklearn" and "serialization_format" not in kwargs:
        kwargs.setdefault("skops_trusted_types", _sklearn_types(model))
    if flavor is mlflow.pyfunc:
        return flavor.log_model(name=name, input_example=input_example, **kwargs)
    return flavor.log_model(model, name=name, input_example=input_example, **kwargs)


def _sklearn_types(model: Any) -> list[str]:
    """scikit-learn's own classes inside ``model`` that skops does not trust by default (tree
    predictors of gradient boosting, ...): trusted, as the library itself is. Anything else
    stays untrusted, and MLflow says so."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return [t for t in untrusted if t.startswith("sklearn.")]
