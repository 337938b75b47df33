"""``%%track`` and ``%track``: runs, lineage and the registry, a thin layer over :mod:`tracking`.

``%%track [--experiment E] [--name N] [--param k=v ...] [--autolog] [--seed S]`` runs the cell as
one MLflow run. ``%track SUBCOMMAND`` lists, compares, registers, promotes and reproduces.
"""

from __future__ import annotations

import ast
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import MlopsError
from .common import replaying, run_subcommand


@magic_arguments(name="%track")
@argument("--experiment", "-e", help="MLflow experiment (created if new; default: the active one)")
@argument("--name", "-n", help="run name (default: MLflow picks one)")
@argument(
    "--param", "-p", action="append", default=[], metavar="K=V", help="a parameter (repeatable)"
)
@argument("--autolog", action="store_true", help="turn on mlflow.autolog for this cell")
@argument("--seed", type=int, help="seed for random, numpy, ... (default: a new one, recorded)")
@argument("--tag", "-t", action="append", default=[], metavar="K=V", help="a run tag (repeatable)")
def _cell_options(args: Any) -> Any:
    """Run the cell as one MLflow run, recording code, environment, data read and results."""
    return args


@magic_arguments(name="track runs")
@argument("--experiment", "-e", help="only this experiment")
@argument("--filter", "-f", default="", help='MLflow search syntax: "metrics.rmse < 2"')
@argument("--order", "-o", action="append", help='e.g. "metrics.rmse ASC" (default: newest first)')
@argument("--max", type=int, default=100, help="how many runs to show (default 100)")
@argument("--metric", "-m", help="chart this metric across the runs")
def _runs(args: Any) -> Any:
    """Runs in an interactive table (MLflow search syntax), and a metric chart."""
    from .. import tracking
    from ..views import charts
    from ..views.table import InteractiveFrame

    frame = tracking.runs(
        args.experiment, args.filter, args.order or ("start_time DESC",), args.max
    )
    if frame.attrs.get("more"):
        print(f"showing the first {len(frame)} runs; narrow with --filter or raise --max")
    if args.metric:
        from IPython.display import display

        display(charts.metric_across_runs(frame, args.metric))
    return InteractiveFrame(frame)


@magic_arguments(name="track compare")
@argument("runs", nargs="+", help="run ids (or prefixes), names, M@alias or M/3")
def _compare(args: Any) -> Any:
    """Parameters and metrics side by side, and the metric histories charted."""
    from IPython.display import display

    from .. import tracking
    from ..views import charts
    from ..views.table import InteractiveFrame

    frame = tracking.compare(args.runs)
    history = tracking.metric_history(args.runs)
    if len(history):
        display(charts.metric_histories(history))
    shown = InteractiveFrame(frame)
    shown.attrs.update(frame.attrs)
    return shown


@magic_arguments(name="track register")
@argument("run", help="the run whose model to register")
@argument("--name", "-n", required=True, help="registered model name")
@argument("--alias", "-a", help="alias to point at the new version (e.g. champion)")
def _register(args: Any) -> Any:
    """Register the model a run logged as the next version of a registered model."""
    from .. import tracking

    version = tracking.register(args.run, args.name, args.alias)
    alias = f" as {args.name}@{args.alias}" if args.alias else ""
    print(f"Registered {version.name}/{version.version}{alias} (run {version.run_id[:8]})")
    return version


@magic_arguments(name="track promote")
@argument("ref", help="the model version: M@alias or M/3")
@argument("alias", help="the alias to move onto it (e.g. champion)")
@argument(
    "--gate",
    action="append",
    metavar="RULE",
    help="rmse (not worse than the alias's version), rmse+5%%, accuracy+0.01, rmse<=2.5",
)
@argument("--data", metavar="DATASET@vN", help="held-out data the gate scores both versions on")
@argument(
    "--target",
    metavar="COLUMN",
    help="the data's true values (default: the one column the model does not take)",
)
@argument("--force", action="store_true", help="promote even when the gate fails")
def _promote(args: Any) -> Any:
    """Move an alias onto a model version: ``%track promote temps@challenger champion``; with
    ``--gate``, only if it beats the version that holds the alias on held-out data."""
    from .. import tracking

    version = tracking.promote(
        args.ref, args.alias, gate=args.gate, data=args.data, target=args.target, force=args.force
    )
    print(f"{version.name}@{args.alias} -> version {version.version} (run {version.run_id[:8]})")
    return version


@magic_arguments(name="track models")
@argument("name", nargs="?", help="only this model")
def _models(args: Any) -> Any:
    """The registry: versions, aliases, and the metrics and data versions behind each."""
    from .. import tracking
    from ..views.table import InteractiveFrame

    return InteractiveFrame(tracking.models(args.name))


@magic_arguments(name="track ui")
@argument("--port", type=int, help="port (default: 5000, or the next free one)")
@argument("--stop", action="store_true", help="stop the UI this project started")
def _ui(args: Any) -> Any:
    """MLflow's UI on 127.0.0.1 for this project's store; prints the link."""
    from ..tracking import ui

    if args.stop:
        print("MLflow UI stopped" if ui.stop() else "no MLflow UI was running")
        return None
    url = ui.start(port=args.port)
    print(f"MLflow UI: {url}")
    return None


@magic_arguments(name="track reproduce")
@argument("run", help="the run to reproduce (id prefix, name, M@alias, M/3)")
@argument("--rtol", type=float, default=1e-9, help="relative tolerance per metric (default 1e-9)")
def _reproduce(args: Any) -> Any:
    """Re-run a run's code with its parameters, seed and data versions; compare the metrics."""
    from .. import tracking

    result = tracking.reproduce(args.run, rtol=args.rtol)
    return result


@magic_arguments(name="track run")
@argument("notebook", help="the notebook (its parameters cell is tagged 'parameters')")
@argument("--param", "-p", action="append", default=[], metavar="K=V", help="a parameter")
@argument("--experiment", "-e", help="MLflow experiment")
@argument("--name", "-n", help="run name (default: the notebook's name)")
@argument("--sweep", action="append", default=[], metavar="K=a,b,c", help="run a grid")
@argument("--jobs", "-j", type=int, help="parallel workers of a sweep (2) or a search (1)")
@argument("--search", choices=["tpe", "random"], help="search with Optuna instead")
@argument("--space", action="append", default=[], metavar="K=LOW:HIGH", help="search dimension")
@argument("--trials", type=int, default=30, help="trials of a search (30)")
@argument("--metric", help="the logged metric a search optimizes")
@argument("--maximize", action="store_true", help="a search maximizes (else minimizes)")
@argument("--prune", choices=["median", "none"], default="median", help="stop lagging trials")
@argument("--cluster", metavar="tcp://HOST:8786", help="runs on this Dask scheduler's workers")
def _run(args: Any) -> Any:
    """Execute a notebook with papermill as one run (or a sweep of runs in parallel, or an
    Optuna search)."""
    from .. import tracking
    from ..tracking.notebooks import parse_sweep
    from ..tracking.tracked import parse_assignments

    params = parse_assignments(args.param)
    if args.search:
        from ..tracking import search

        found = search.search(
            args.notebook, search.parse_space(args.space or []), args.trials, args.metric,
            minimize=not args.maximize, sampler=args.search, parameters=params,
            experiment=args.experiment, jobs=args.jobs or 1, prune=args.prune,
            cluster=args.cluster,
        )  # fmt: skip
        print(found)
        return found
    if args.sweep:
        results = tracking.sweep(
            args.notebook, parse_sweep(args.sweep), params, args.experiment, jobs=args.jobs or 2,
            cluster=args.cluster,
        )  # fmt: skip
        for result in results:
            print(result)
        return results
    result = tracking.run_notebook(
        args.notebook, params, experiment=args.experiment, name=args.name, progress=True
    )
    print(result)
    return result


@magic_arguments(name="track stage")
@argument("name", help="stage name")
@argument("notebook", help="the notebook the stage runs (paths in it: from the project root)")
@argument("--param", "-p", action="append", default=[], metavar="K=V", help="a parameter")
@argument("--dep", "-d", action="append", default=[], help="a file or folder it reads")
@argument("--out", "-o", action="append", default=[], metavar="PATH[=DATASET]", help="it writes")
def _stage(args: Any) -> Any:
    """Define a pipeline stage: a notebook run as an ordinary DVC stage in dvc.yaml."""
    from .. import pipelines
    from ..tracking.tracked import parse_assignments

    outs: dict[str, str | None] = {}
    for item in args.out:
        path, _, dataset = item.partition("=")
        outs[path] = dataset or None
    stage = pipelines.add_stage(
        args.name, args.notebook, parse_assignments(args.param), args.dep, outs
    )
    print(f"stage {stage.name}: {stage.notebook} -> {', '.join(stage.outs) or 'no outputs'}")
    return stage


@magic_arguments(name="track pipeline")
@argument("action", nargs="?", choices=["run", "dag", "status"], default="dag")
@argument("stages", nargs="*", help="run only these stages (and what they need)")
@argument("--experiment", "-e", help="MLflow experiment")
@argument("--force", "-f", action="store_true", help="run every stage")
def _pipeline(args: Any) -> Any:
    """Run the pipeline (dvc repro, each stage a tracked run), draw its DAG, or its status."""
    from .. import pipelines

    if args.action == "dag":
        return pipelines.dag()
    if args.action == "status":
        return pipelines.status()
    result = pipelines.run(args.stages or None, experiment=args.experiment, force=args.force)
    print(result)
    return result


# What each execution was as it ran (text, JupyterLab's cell id, time), by execution number:
# %%track compares it with the notebook's order (tracking.cells).
EXECUTIONS: dict[int, tuple[str, str | None, float]] = {}


def record_execution(info: Any) -> None:
    """A ``pre_run_cell`` hook: remember each execution kept in the history."""
    import time

    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and getattr(info, "store_history", False):
        number = shell.execution_count - 1  # counted before the hook runs
        EXECUTIONS[number] = (info.raw_cell or "", getattr(info, "cell_id", None), time.time())


SUBCOMMANDS = {
    "runs": _runs,
    "compare": _compare,
    "register": _register,
    "promote": _promote,
    "models": _models,
    "ui": _ui,
    "run": _run,
    "reproduce": _reproduce,
    "stage": _stage,
    "pipeline": _pipeline,
}
WRITES = {"register", "promote", "ui", "run", "reproduce", "stage", "pipeline"}


@magics_class
class TrackMagics(Magics):
    @line_cell_magic
    def track(self, line: str, cell: str | None = None) -> Any:
        """Runs on MLflow: ``%%track [options]`` tracks a cell; ``%track SUBCOMMAND [--help]``.

        Subcommands: runs, compare, register, promote, models, ui, run, reproduce, stage,
        pipeline.
        """
        __tracebackhide__ = True  # the user's error shows their code, not this layer
        if cell is None:
            return run_subcommand("track", SUBCOMMANDS, line, writes=WRITES)
        return self._track_cell(line, cell)

    def _track_cell(self, line: str, cell: str) -> Any:
        __tracebackhide__ = True
        from .. import tracking
        from ..tracking import cells, environment
        from ..tracking.tracked import parse_assignments

        if {"-h", "--help"} & set(line.split()):
            print(_cell_options.parser.format_help().removeprefix("::").strip())  # type: ignore[attr-defined]
            return None
        try:
            args = _cell_options.parser.parse_args(shlex.split(line))  # type: ignore[attr-defined]
            params = parse_assignments(args.param)
            tags = dict(t.partition("=")[::2] for t in args.tag)
        except (ValueError, MlopsError) as exc:
            raise UsageError(f"%%track: {exc}") from None
        shell = self.shell
        assert shell is not None
        if replaying():  # an earlier tracked cell, replayed before the one reproduced
            shell.user_ns.update(params)
            return self._execute(cell)
        raw = list(shell.history_manager.input_hist_raw) if shell.history_manager else []
        history = [c for c in raw[1:-1] if c.strip()]
        ran = cells.executions(raw, EXECUTIONS)
        shell.user_ns.update(params)
        notebook = environment.notebook_path(shell.user_ns)
        try:
            context = tracking.run(
                experiment=args.experiment,
                name=args.name,
                params=params,
                code=cell,
                history=history,
                notebook=notebook,
                cells=ran,
                seed=args.seed,
                autolog=args.autolog,
                tags=tags,
            )
            run = context.__enter__()
        except MlopsError as exc:
            raise UsageError(str(exc)) from None
        try:
            result = self._execute(cell)
        except BaseException as exc:
            context.__exit__(type(exc), exc, exc.__traceback__)
            print(f"run {run.name} ({run.short_id}) {run.status.lower()}", file=sys.stderr)
            raise
        context.__exit__(None, None, None)
        print(f"run {run.name} ({run.short_id}) {run.status.lower()}")
        return result

    def _execute(self, cell: str) -> Any:
        """Run the cell's code in the user's namespace; the value of a last expression is shown."""
        __tracebackhide__ = True
        shell = self.shell
        assert shell is not None
        code = shell.transform_cell(cell)
        tree = ast.parse(code)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)  # type: ignore[attr-defined]
        filename = shell.compile.cache(code)
        exec(compile(tree, filename, "exec"), shell.user_ns)
        if last is not None:
            return eval(compile(last, filename, "eval"), shell.user_ns)
        return None
