"""``%serve``: a registered model behind HTTP, a thin layer over :mod:`mlops_jupyter.serving`."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import MlopsError
from .common import run_subcommand


@magic_arguments(name="serve start")
@argument("model", help="MODEL@alias, MODEL/3, MODEL (latest) or runs:/ID/model")
@argument("--name", "-n", help="endpoint name (default: the model's name)")
@argument("--port", "-p", type=int, help="port (default: the first free one from 5100)")
@argument("--workers", "-w", type=int, help="worker processes (default: one per core, at most 4)")
@argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)")
@argument("--token", help="require this bearer token (set one when the host is exposed)")
@argument("--challenger", help="a second model (M@challenger) tried beside this one")
@argument("--split", type=float, default=0.0, help="percent of requests the challenger answers")
@argument("--shadow", action="store_true", help="the challenger predicts every request, unseen")
@argument("--sticky", metavar="HEADER", help="keep each value of this header with one model")
@argument("--no-batching", action="store_true", help="one model call per request")
@argument("--id-column", metavar="COLUMN", help="each row's id, logged for labels (not a feature)")
def _start(args: Any) -> Any:
    """Serve a model in its own process; waits until it answers and prints its URL."""
    from .. import serving

    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        print(f"warning: {args.host} exposes the endpoint beyond this machine; consider --token")
    endpoint = serving.start(
        args.model, args.name, args.port, args.workers, args.host, args.token,
        challenger=args.challenger, split=args.split, shadow=args.shadow, sticky=args.sticky,
        batching=not args.no_batching, id_column=args.id_column,
    )  # fmt: skip
    n = endpoint.workers
    print(f"{endpoint}  ({n} worker{'s' if n > 1 else ''}{_chosen(args.workers)}; "
          f"docs: {endpoint.url}/openapi.json, metrics: {endpoint.url}/metrics)")  # fmt: skip
    return endpoint


def _chosen(asked: int | None) -> str:
    """How the worker count was chosen, when the user did not choose it."""
    if asked:
        return ""
    from ..workspace import Workspace

    if Workspace.find().settings.serve_workers.strip().lower() == "auto":
        return ", one per core: --workers N to choose"
    return ", the serve_workers setting"


@magic_arguments(name="serve trial")
@argument("name", help="endpoint name")
@argument("challenger", nargs="?", help="the model tried beside the champion (M@challenger)")
@argument("--split", type=float, default=0.0, help="percent of requests the challenger answers")
@argument("--shadow", action="store_true", help="the challenger predicts every request, unseen")
@argument("--sticky", metavar="HEADER", help="keep each value of this header with one model")
@argument("--end", action="store_true", help="end the trial: the champion answers everything")
def _trial(args: Any) -> Any:
    """Try a challenger on live traffic beside the champion, change the trial, or end it."""
    from .. import serving

    if args.end == bool(args.challenger):
        raise MlopsError("name a challenger (M@challenger --split 10), or --end the trial")
    endpoint = serving.trial(args.name, args.challenger, args.split, args.shadow, args.sticky)
    if args.end:
        print(f"endpoint {endpoint.name}: trial ended; {endpoint.model} answers every request")
    else:
        print(f"endpoint {endpoint.name}: challenger {endpoint.challenger}, within seconds")
    return endpoint


@magic_arguments(name="serve status")
def _status(args: Any) -> Any:
    """Every endpoint: model version, URL, uptime, requests, errors, p95 latency."""
    from .. import serving
    from ..views.table import InteractiveFrame

    return InteractiveFrame(serving.status())


@magic_arguments(name="serve logs")
@argument("name", help="endpoint name")
@argument("-n", "--lines", type=int, default=20, help="how many requests (default 20)")
def _logs(args: Any) -> Any:
    """The last requests an endpoint logged: time, id, status, latency, inputs, outputs."""
    from .. import serving

    return serving.logs(args.name, args.lines)


@magic_arguments(name="serve stop")
@argument("name", help="endpoint name")
def _stop(args: Any) -> Any:
    """Stop an endpoint."""
    from .. import serving

    endpoint = serving.stop(args.name)
    print(f"stopped endpoint {endpoint.name} ({endpoint.url})")


@magic_arguments(name="serve reload")
@argument("name", help="endpoint name")
def _reload(args: Any) -> Any:
    """Load the model again (the alias's current version) with no failed request."""
    from .. import serving

    endpoint = serving.reload(args.name)
    print(f"endpoint {endpoint.name} switches to version {endpoint.version} within seconds")
    return endpoint


@magic_arguments(name="serve predict")
@argument("name", help="endpoint name")
@argument("data", help="a DataFrame variable, or JSON in MLflow's scoring format")
def _predict(args: Any) -> Any:
    """Predictions from an endpoint for a DataFrame (by variable name) or JSON."""
    from IPython import get_ipython

    from .. import serving

    shell = get_ipython()
    namespace = shell.user_ns if shell is not None else {}
    data = namespace.get(args.data, args.data)
    if isinstance(data, str) and not data.lstrip().startswith(("{", "[")):
        raise MlopsError(f"{args.data!r} is neither a variable in the notebook nor JSON")
    return serving.predict(args.name, data)


@magic_arguments(name="serve export")
@argument("name", help="an endpoint's name, or a model (M@alias, M/3)")
@argument("--to", required=True, choices=["kserve", "mlserver"], help="the serving engine")
@argument("folder", help="where to write the model and the manifests")
@argument("--storage-uri", help="where the cluster will read the model (s3://..., pvc://...)")
def _export(args: Any) -> Any:
    """Write what KServe or Seldon MLServer needs to serve the same model."""
    from .. import serving

    out = serving.export(args.name, args.to, args.folder, args.storage_uri)
    print(f"wrote {out} (see its README.md: upload model/, then kubectl apply)")
    return out


@magic_arguments(name="serve prometheus")
@argument("--write", metavar="FILE", help="write it to FILE (prometheus --config.file=FILE)")
@argument("--interval", default="15s", help="scrape interval (default 15s)")
def _prometheus(args: Any) -> Any:
    """A Prometheus scrape configuration for the running endpoints (printed, or written)."""
    from ..serving import prometheus

    text = prometheus.scrape_config(interval=args.interval)
    if args.write:
        print(f"wrote {prometheus.write(args.write, text)}")
        return None
    print(text, end="")
    return None


SUBCOMMANDS = {
    "start": _start,
    "trial": _trial,
    "status": _status,
    "logs": _logs,
    "predict": _predict,
    "reload": _reload,
    "stop": _stop,
    "export": _export,
    "prometheus": _prometheus,
}
WRITES = {"start", "trial", "stop", "reload", "predict", "export"}


@magics_class
class ServeMagics(Magics):
    @line_magic
    def serve(self, line: str) -> Any:
        """Models behind HTTP: ``%serve SUBCOMMAND [--help]``.

        start, trial, status, logs, predict, reload, stop, export, prometheus.
        """
        return run_subcommand("serve", SUBCOMMANDS, line, writes=WRITES)
