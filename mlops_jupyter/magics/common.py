"""What every magic shares: subcommand dispatch, ``--help``, and errors as one line."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from ..errors import MlopsError


def run_subcommand(magic: str, subcommands: dict[str, Callable[[Any], Any]], line: str) -> Any:
    """Run ``%magic SUBCOMMAND ARGS``; package errors become a one-line :class:`UsageError`."""
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
