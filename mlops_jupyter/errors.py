"""The package's exception types: each message is one line a user can act on."""

from __future__ import annotations


class MlopsError(Exception):
    """A mistake or a fault the user can fix; the message says what is wrong and what to do."""


class NotFoundError(MlopsError, LookupError):
    """A name, version, file or object that does not exist; the message lists what does."""


def close_matches(word: str, choices: list[str], n: int = 5) -> str:
    """A short 'known: a, b, c' tail for a not-found message, closest matches first."""
    import difflib

    if not choices:
        return "none exist yet"
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    if close:
        return f"did you mean: {', '.join(close)}"
    shown = choices[:n]
    more = f" (+{len(choices) - len(shown)} more)" if len(choices) > len(shown) else ""
    return f"known: {', '.join(shown)}{more}"


def first_line(error: BaseException | str, limit: int = 300) -> str:
    """The first non-empty line of an error (or its type's name), at most ``limit`` characters."""
    text = str(error).strip()
    if text:
        return text.splitlines()[0][:limit]
    return type(error).__name__ if isinstance(error, BaseException) else "unknown error"
