"""``%monitor``: drift, the scorecard and labels, a thin layer over :mod:`monitoring`."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import MlopsError
from .common import run_subcommand


def _window(text: str) -> Any:
    from ..monitoring import windows

    return windows.parse(text)


@magic_arguments(name="monitor drift")
@argument("endpoint", help="endpoint name")
@argument("--window", "-w", default="1d", help="1h, 1d, 7d, or N (the last N requests)")
@argument("--reference", "-r", help="NAME@vN (default: what the model's run trained on)")
def _drift(args: Any) -> Any:
    """Per-column drift of the served inputs against the training data (or a reference)."""
    from .. import monitoring

    result = monitoring.drift(args.endpoint, _window(args.window), args.reference)
    print(result.summary())
    return result.frame()


@magic_arguments(name="monitor scorecard")
@argument("endpoint", help="endpoint name")
def _scorecard(args: Any) -> Any:
    """The seven monitors of the ML Test Score, each pass / warn / fail with its evidence."""
    from .. import monitoring

    card = monitoring.scorecard(args.endpoint)
    print(f"scorecard of {card.endpoint}: {card.status.upper()}")
    return card.frame()


@magic_arguments(name="monitor estimate")
@argument("endpoint", help="endpoint name")
@argument("--window", "-w", default="7d", help="1h, 1d, 7d, or N (the last N requests)")
@argument("--rows", type=int, help="rows per window estimated (default: a tenth of the reference)")
@argument("--reference", "-r", help="NAME@vN or a DataFrame variable, with the truth column")
@argument("--target", "-t", help="the reference's truth column (default: the one not an input)")
def _estimate(args: Any) -> Any:
    """Performance without labels, per window: CBPE for classifiers, DLE for regressors,
    beside the realized metric where labels arrived."""
    import pandas as pd
    from IPython import get_ipython

    from .. import monitoring

    shell = get_ipython()
    reference = (shell.user_ns if shell is not None else {}).get(args.reference, args.reference)
    found = monitoring.estimate(
        args.endpoint, _window(args.window), reference, args.target, args.rows
    )
    for estimation in found.values():
        print(estimation.summary())
    return pd.concat([e.frame() for e in found.values()], ignore_index=True)


@magic_arguments(name="monitor compare")
@argument("endpoint", help="endpoint name")
@argument("--window", "-w", default="1d", help="1h, 1d, 7d, or N (each variant's last N)")
def _compare(args: Any) -> Any:
    """Champion and challenger of a trial side by side: traffic, errors, latency, outputs,
    quality on the labels that arrived."""
    from .. import monitoring

    return monitoring.compare_trial(args.endpoint, _window(args.window))


@magic_arguments(name="monitor labels")
@argument("endpoint", help="endpoint name")
@argument("data", help="a DataFrame variable or a CSV/Parquet file with id and label")
def _labels(args: Any) -> Any:
    """Labels that arrived later, joined to the rows answered by id (request id, ``#N`` for
    row N of a batch, or the endpoint's id column)."""
    from IPython import get_ipython

    from .. import monitoring

    shell = get_ipython()
    data = (shell.user_ns if shell is not None else {}).get(args.data, args.data)
    if isinstance(data, str) and not data.endswith((".csv", ".parquet")):
        raise MlopsError(f"{args.data!r} is neither a DataFrame variable nor a .csv/.parquet file")
    return monitoring.add_labels(args.endpoint, data)  # shown as its one line


@magic_arguments(name="monitor dashboard")
@argument("endpoint", help="endpoint name")
@argument("--window", "-w", default="1d", help="1h, 1d, 7d, or 1000 (the last 1,000 requests)")
@argument("--refresh", type=float, help="refresh every SECONDS (off unless given)")
def _dashboard(args: Any) -> Any:
    """The scorecard and charts (drift, distributions, ops, quality) with a window selector."""
    from .. import monitoring

    window = _window(args.window)
    offered = [value for _, value in monitoring.dashboard_windows()]
    if window not in offered:
        raise MlopsError(f"window {args.window!r}: use {', '.join(map(str, offered))}")
    return monitoring.dashboard(args.endpoint, window, args.refresh)


@magic_arguments(name="monitor publish")
@argument("endpoint", help="endpoint name")
@argument("--port", "-p", type=int, help="port (default: the first free from 8866)")
@argument("--host", default="127.0.0.1", help="address to listen on (another host gets a token)")
@argument("--refresh", type=float, default=60, help="the page refreshes every SECONDS (60)")
@argument("--stop", action="store_true", help="stop the published dashboard")
def _publish(args: Any) -> Any:
    """Serve the endpoint's dashboard with Voilà (sources hidden) and print its URL."""
    from ..monitoring import publish

    if args.stop:
        print(f"stopped the {publish.stop(args.endpoint)}")
        return None
    found = publish.publish(args.endpoint, args.port, args.host, args.refresh)
    print(f"{found} (refreshes every {args.refresh:g} s; `%monitor publish --stop` ends it)")
    return found.url


SUBCOMMANDS = {
    "drift": _drift,
    "scorecard": _scorecard,
    "compare": _compare,
    "estimate": _estimate,
    "labels": _labels,
    "dashboard": _dashboard,
    "publish": _publish,
}


@magics_class
class MonitorMagics(Magics):
    @line_magic
    def monitor(self, line: str) -> Any:
        """Monitoring endpoints: ``%monitor SUBCOMMAND [--help]``.

        drift, scorecard, estimate, compare, labels, dashboard, publish.
        """
        return run_subcommand("monitor", SUBCOMMANDS, line, writes={"labels", "publish"})
