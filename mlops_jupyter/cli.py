"""The ``mlops-jupyter`` command: what the magics do, from a terminal, cron or CI.

Errors print one line and exit non-zero; ``--help`` on every subcommand.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .errors import MlopsError


def _params(pairs: list[list[str]] | None) -> dict[str, Any]:
    from .tracking.tracked import parse_value

    return {key: parse_value(value) for key, value in pairs or []}


def _run(args: argparse.Namespace) -> int:
    from .tracking import notebooks

    params = _params(args.param)
    if args.search:
        from .tracking import search

        found = search.search(
            args.notebook, search.parse_space(args.space or []), args.trials, args.metric,
            minimize=not args.maximize, sampler=args.search, parameters=params,
            experiment=args.experiment, jobs=args.jobs or 1, seed=args.seed, prune=args.prune,
            cluster=args.cluster,
        )  # fmt: skip
        print(found)
        return 0 if found.best_value is not None else 1
    if args.sweep:
        grid = notebooks.parse_sweep(args.sweep)
        results = notebooks.sweep(
            args.notebook, grid, params, experiment=args.experiment, jobs=args.jobs or 2,
            cluster=args.cluster,
        )  # fmt: skip
        for result in results:
            print(result)
        return 1 if any(r.status != "FINISHED" for r in results) else 0
    tags = {"mlflow.parentRunId": args.parent} if args.parent else {}
    cwd = None
    if args.stage:  # run by `dvc repro`: parameters from params.yaml, paths from the root
        from . import pipelines
        from .workspace import Workspace

        params = {**pipelines.stage_params(args.stage), **params}
        tags["mlops.stage"] = args.stage
        cwd = Workspace.find().root
    result = notebooks.run_notebook(
        args.notebook,
        params,
        experiment=args.experiment,
        name=args.name or args.stage,
        seed=args.seed,
        tags=tags,
        cwd=cwd,
        progress=not args.quiet,
        raise_on_failure=not args.json,
    )
    if args.stage:
        from . import pipelines
        from .workspace import Workspace

        pipelines.record_stage_run(Workspace.find(), args.stage, result.run_id)
    print(json.dumps(dataclasses.asdict(result)) if args.json else result)
    return 0 if result.status == "FINISHED" else 1


def _reproduce(args: argparse.Namespace) -> int:
    from .tracking import reproduce

    result = reproduce(args.run, rtol=args.rtol)
    print(result)
    return 0 if result.reproduced else 1


def _stage(args: argparse.Namespace) -> int:
    from . import pipelines

    outs: dict[str, str | None] = {}
    for item in args.out or []:
        path, _, dataset = item.partition("=")
        outs[path] = dataset or None
    stage = pipelines.add_stage(args.name, args.notebook, _params(args.param), args.dep, outs)
    print(f"stage {stage.name}: {stage.notebook} -> {', '.join(stage.outs) or 'no outputs'}")
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from . import pipelines

    if args.action == "status":
        for name, state in pipelines.status().items():
            print(f"{name}: {state}")
        return 0
    print(pipelines.run(args.stages or None, experiment=args.experiment, force=args.force))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from . import serving

    if args.action == "start":
        if not args.target:
            raise MlopsError("give the model to serve: mlops-jupyter serve start MODEL@alias")
        endpoint = serving.start(
            args.target, args.name, args.port, args.workers, args.host, args.token,
            challenger=args.challenger, split=args.split, shadow=args.shadow, sticky=args.sticky,
            id_column=args.id_column,
        )  # fmt: skip
        print(f"{endpoint} ({endpoint.workers} workers)")
    elif args.action == "status":
        frame = serving.status()
        print(frame.to_string(index=False) if len(frame) else "no endpoints are running")
    elif not args.target:
        raise MlopsError(f"give the endpoint's name: mlops-jupyter serve {args.action} NAME")
    elif args.action == "stop":
        print(f"stopped {serving.stop(args.target)}")
    elif args.action == "reload":
        print(serving.reload(args.target))
    elif args.action == "logs":
        print(serving.logs(args.target, args.lines).to_string(index=False))
    return 0


def _monitor(args: argparse.Namespace) -> int:
    from . import monitoring
    from .monitoring.monitors import print_check

    if args.action == "labels":
        if not args.file:
            raise MlopsError("give the labels: mlops-jupyter monitor labels NAME FILE")
        print(monitoring.add_labels(args.endpoint, args.file))
        return 0
    if args.action == "watch":
        from .monitoring import watch

        every = watch.interval(args.every)
        options = {
            "retrain": args.retrain,
            "data": args.data,
            "gate": args.gate,
            "gate_data": args.gate_data,
            "target": args.target,
            "webhook": args.webhook,
        }
        try:
            watch.watch(args.endpoint, every, once=args.once, **options)
        except KeyboardInterrupt:
            print("stopped watching", args.endpoint)
        return 0
    if args.action in ("publish", "unpublish"):
        from .monitoring import publish

        if args.action == "publish":
            print(publish.publish(args.endpoint))
        else:
            print(f"stopped the {publish.stop(args.endpoint)}")
        return 0
    return print_check(monitoring.scorecard(args.endpoint), args.json)


def _stop(args: argparse.Namespace) -> int:
    """Stop every endpoint and published dashboard of the project."""
    from .monitoring import publish
    from .serving import endpoints

    stopped = [f"stopped the {publish.stop(d.endpoint)}" for d in publish.dashboards()]
    stopped += [f"stopped {endpoints.stop(e.name)}" for e in endpoints.endpoints()]
    print("\n".join(stopped) or "nothing of this project was running")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Check the project's set-up (a profile's): one line per part; exit 1 on a failure."""
    from . import doctor

    checks = doctor.check(profile=args.profile)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks]))
    else:
        print("\n".join(str(c) for c in checks))
    failed = [c for c in checks if c.status == "fail"]
    if failed and not args.json:
        print(f"{len(failed)} problem{'s' if len(failed) > 1 else ''}: fix the FAIL lines above")
    return 1 if failed else 0


def _prometheus(args: argparse.Namespace) -> int:
    """Print (or write) a Prometheus scrape configuration for the project's endpoints."""
    from .serving import prometheus

    text = prometheus.scrape_config(interval=args.interval)
    if args.write:
        print(f"wrote {prometheus.write(args.write, text)}")
    else:
        print(text, end="")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="mlops-jupyter", description="The ML lifecycle from Jupyter: data, runs, models."
    )
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="execute a notebook with papermill as one MLflow run (or a sweep)"
    )
    run.add_argument("notebook", help="the notebook (its parameters cell is tagged 'parameters')")
    run.add_argument(
        "-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="a parameter"
    )
    run.add_argument("-e", "--experiment", help="MLflow experiment (created if new)")
    run.add_argument("-n", "--name", help="run name (default: the notebook's name)")
    run.add_argument("--seed", type=int, help="seed passed to a notebook that declares `seed`")
    run.add_argument(
        "--sweep", action="append", metavar="KEY=a,b,c", help="run a grid (repeatable)"
    )
    run.add_argument("-j", "--jobs", type=int, help="parallel workers of a sweep (2) or search (1)")
    run.add_argument("--search", choices=["tpe", "random"], help="search with Optuna instead")
    run.add_argument("--space", action="append", metavar="KEY=LOW:HIGH[:log]|a,b",
                     help="a dimension of the search (repeatable)")  # fmt: skip
    run.add_argument("--trials", type=int, default=30, help="trials of a search (30)")
    run.add_argument("--metric", help="the logged metric a search optimizes")
    run.add_argument("--maximize", action="store_true", help="a search maximizes (else minimizes)")
    run.add_argument("--prune", choices=["median", "none"], default="median",
                     help="stop trials whose steps fall behind the median (median)")  # fmt: skip
    run.add_argument("--cluster", metavar="tcp://HOST:8786",
                     help="run a sweep or search on this Dask scheduler's workers")  # fmt: skip
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--json", action="store_true", help="print the result as one JSON line")
    run.add_argument("--parent", help=argparse.SUPPRESS)  # a sweep's parent run
    run.add_argument("--stage", help="run as this pipeline stage (what dvc.yaml's command says)")
    run.set_defaults(func=_run)

    stage = sub.add_parser("stage", help="define a pipeline stage: a notebook, as a DVC stage")
    stage.add_argument("name", help="stage name")
    stage.add_argument("notebook", help="the notebook the stage runs")
    stage.add_argument(
        "-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="a parameter"
    )
    stage.add_argument("-d", "--dep", action="append", help="a file or folder it reads")
    stage.add_argument(
        "-o", "--out", action="append", metavar="PATH[=DATASET]", help="a file it writes"
    )
    stage.set_defaults(func=_stage)

    pipe = sub.add_parser("pipeline", help="run the pipeline (dvc repro, tracked) or its status")
    pipe.add_argument("action", choices=["run", "status"])
    pipe.add_argument("stages", nargs="*", help="only these stages (and what they need)")
    pipe.add_argument("-e", "--experiment", help="MLflow experiment")
    pipe.add_argument("-f", "--force", action="store_true", help="run every stage")
    pipe.set_defaults(func=_pipeline)

    serve = sub.add_parser("serve", help="serve a registered model over HTTP, and manage endpoints")
    serve.add_argument("action", choices=["start", "status", "stop", "reload", "logs"])
    serve.add_argument("target", nargs="?", help="the model (start) or the endpoint's name")
    serve.add_argument("-n", "--name", help="endpoint name (start)")
    serve.add_argument("-p", "--port", type=int, help="port (start)")
    serve.add_argument("-w", "--workers", type=int, help="worker processes (start; one per core)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (start)")
    serve.add_argument("--token", help="require this bearer token (start)")
    serve.add_argument("--challenger", help="a model tried beside it: M@challenger (start)")
    serve.add_argument("--split", type=float, default=0.0, help="percent for the challenger")
    serve.add_argument("--shadow", action="store_true", help="the challenger predicts unseen")
    serve.add_argument("--sticky", metavar="HEADER", help="one model per value of HEADER")
    serve.add_argument("--id-column", metavar="COLUMN", help="each row's id, logged for labels")
    serve.add_argument("--lines", type=int, default=20, help="requests to show (logs)")
    serve.set_defaults(func=_serve)

    mon = sub.add_parser(
        "monitor", help="an endpoint's scorecard (exit 1 on a failure), labels, its dashboard"
    )
    mon.add_argument("action", choices=["check", "labels", "watch", "publish", "unpublish"])
    mon.add_argument("endpoint", help="endpoint name")
    mon.add_argument("file", nargs="?", help="labels: a CSV or Parquet file with id and label")
    mon.add_argument("--json", action="store_true", help="check: print JSON")
    mon.add_argument("--every", default="1h", help="watch: how often (15m, 1h, 1d)")
    mon.add_argument("--once", action="store_true", help="watch: one check, then exit (cron)")
    mon.add_argument("--retrain", metavar="NOTEBOOK", help="watch: run it when the scorecard fails")
    mon.add_argument("--data", metavar="DATASET", help="watch: add the labelled traffic to it")
    mon.add_argument("--gate", action="append", help="watch: a promotion rule (rmse+5%%)")
    mon.add_argument("--gate-data", metavar="REF", help="watch: held-out data for the gate")
    mon.add_argument("--target", metavar="COLUMN", help="watch: the data's truth column")
    mon.add_argument("--webhook", metavar="URL", help="watch: post status changes (Slack-style)")
    mon.set_defaults(func=_monitor)

    doc = sub.add_parser("doctor", help="check the set-up (a profile's), one line per part")
    doc.add_argument("--profile", help="the [profiles.NAME] of mlops.toml to check")
    doc.add_argument("--json", action="store_true", help="print JSON")
    doc.set_defaults(func=_doctor)

    prom = sub.add_parser("prometheus", help="a Prometheus scrape configuration for the endpoints")
    prom.add_argument("--write", metavar="FILE", help="write it to FILE instead of printing it")
    prom.add_argument("--interval", default="15s", help="scrape interval (default 15s)")
    prom.set_defaults(func=_prometheus)

    stop = sub.add_parser("stop", help="stop every endpoint and dashboard of the project")
    stop.set_defaults(func=_stop)

    rep = sub.add_parser("reproduce", help="re-run a run as recorded and compare its metrics")
    rep.add_argument("run", help="run id (or prefix), run name, MODEL@alias or MODEL/VERSION")
    rep.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance per metric")
    rep.set_defaults(func=_reproduce)
    return top


STOP_GRACE = 45.0  # seconds a stopped process has to end its runs and kernels itself


def _terminate(signum: int, frame: Any) -> None:
    import threading

    from .tracking import tracked

    tracked.stop_requested()
    last_resort = threading.Timer(STOP_GRACE, _give_up)
    last_resort.daemon = True
    last_resort.start()
    raise KeyboardInterrupt  # SIGTERM ends a run as ^C does: marked KILLED, kernel stopped


def _give_up() -> None:
    """A stop still not done (a kernel client that hangs on its way out): the runs still
    active end KILLED, and so does the process (its kernel follows: it watches its parent)."""
    import os

    from .tracking import tracked

    try:
        tracked.end_killed_now()
    finally:
        os._exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args))
    except MlopsError as exc:
        print(f"mlops-jupyter {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mlops-jupyter {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
