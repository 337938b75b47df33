"""``%monitor``: drift, the scorecard and labels, a thin layer over :mod:`monitoring`."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import MlopsError
from .common import run_subcommand


def _window(text: str) -> Any:
    return int(text) if text.isdigit() else text


@magic_arguments(name="monitor drift")
@argument("endpoint", help="endpoint name")
@argument("--window", "-w", default="1d", help="1h, 1d, 7d, or N (the last N requests)")
@argument("--reference", "-r", help="NAME@vN (default: what the model's run trained on)")
def _drift(args: Any) -> Any:
    """Per-column drift of the served inputs against the training data (or a reference)."""
    from .. import monitoring

    result = monitoring.drift(args.endpoint, _window(args.window), args.reference)
    skipped = f"; never served: {', '.join(result.skipped)}" if result.skipped else ""
    print(
        f"{result.share_drifted:.0%} of columns drifted against {result.reference}"
        f" ({'dataset drift' if result.drifted else 'no dataset drift'}){skipped}"
    )
    return result.frame()


@magic_arguments(name="monitor scorecard")
@argument("endpoint", help="endpoint name")
def _scorecard(args: Any) -> Any:
    """The seven monitors of the ML Test Score, each pass / warn / fail with its evidence."""
    from .. import monitoring

    card = monitoring.scorecard(args.endpoint)
    print(f"scorecard of {card.endpoint}: {card.status.upper()}")
    return card.frame()


@magic_arguments(name="monitor labels")
@argument("endpoint", help="endpoint name")
@argument("data", help="a DataFrame variable or a CSV/Parquet file with id and label")
def _labels(args: Any) -> Any:
    """Labels that arrived later, joined to the predictions by request id."""
    from IPython import get_ipython

    from .. import monitoring

    shell = get_ipython()
    data = (shell.user_ns if shell is not None else {}).get(args.data, args.data)
    if isinstance(data, str) and not data.endswith((".csv", ".parquet")):
        raise MlopsError(f"{args.data!r} is neither a DataFrame variable nor a .csv/.parquet file")
    matched = monitoring.add_labels(args.endpoint, data)
    print(f"{matched} labels matched a request of {args.endpoint}")
    return matched


SUBCOMMANDS = {"drift": _drift, "scorecard": _scorecard, "labels": _labels}


@magics_class
class MonitorMagics(Magics):
    @line_magic
    def monitor(self, line: str) -> Any:
        """Monitoring endpoints: ``%monitor SUBCOMMAND [--help]``.

        drift, scorecard, labels.
        """
        return run_subcommand("monitor", SUBCOMMANDS, line, writes={"labels"})
