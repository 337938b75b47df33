"""What every magic shares: subcommand dispatch, ``--help``, and errors as one line."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Collection
from typing import Any

from IPython.core.error import UsageError

from ..errors import MlopsError

REPLAY_ENV = "MLOPS_JUPYTER_REPLAY"


def replaying() -> bool:
    """Whether this kernel replays a recorded session to reproduce a run (writes are skipped)."""
    return os.environ.get(REPLAY_ENV) == "1"


def run_subcommand(
    magic: str,
    subcommands: dict[str, Callable[[Any], Any]],
    line: str,
    writes: Collection[str] = (),
) -> Any:
    """Run ``%magic SUBCOMMAND ARGS``; package errors become a one-line :class:`UsageError`.

    While a run is reproduced, subcommands in ``writes`` are skipped: a replay reads only.
    """
    word, _, rest = line.strip().partition(" ")
    if word in ("", "-h", "--help", "help"):
        print(f"%{magic} SUBCOMMAND [--help]\n")
        for name, func in subcommands.items():
            print(f"  {name:<9}{summary(func)}")
        return None
    if word not in subcommands:
        from ..errors import close_matches

        raise UsageError(
            f"%{magic} has no subcommand {word!r}; {close_matches(word, list(subcommands))}"
        )
    func = subcommands[word]
    if word in writes and replaying():
        print(f"(reproducing: %{magic} {word} skipped)")
        return None
    if {"-h", "--help"} & set(rest.split()):
        print(func.parser.format_help().removeprefix("::").strip())  # type: ignore[attr-defined]
        return None
    try:
        argv = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"%{magic} {word}: {exc} (check the quotes)") from None
    args = func.parser.parse_args(argv)  # type: ignore[attr-defined]
    try:
        return func(args)
    except MlopsError as exc:
        raise UsageError(str(exc)) from None


def summary(func: Any) -> str:
    """The first line of a subcommand's docstring (``magic_arguments`` rewrites ``__doc__``)."""
    doc = getattr(getattr(func, "parser", None), "description", None) or func.__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
