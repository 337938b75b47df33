"""Dataset names and references: ``NAME``, ``NAME@vN``, ``NAME@latest``, ``NAME@<git revision>``.

Version N of dataset NAME is the annotated git tag ``NAME@vN``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import MlopsError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
VERSION_RE = re.compile(r"^v([1-9][0-9]*)$")


def check_name(name: str) -> str:
    """``name`` if it can be a dataset name (and so part of a git tag), else a clear error."""
    if not NAME_RE.match(name) or ".." in name or name.endswith((".", ".lock")):
        raise MlopsError(
            f"{name!r} cannot be a dataset name: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (for example prices_1h)"
        )
    return name


def tag_name(name: str, number: int) -> str:
    return f"{name}@v{number}"


@dataclass(frozen=True)
class Ref:
    """A parsed reference: ``spec`` is ``vN``, ``latest`` or a git revision."""

    name: str
    spec: str = "latest"

    @property
    def number(self) -> int | None:
        m = VERSION_RE.match(self.spec)
        return int(m.group(1)) if m else None

    def __str__(self) -> str:
        return f"{self.name}@{self.spec}"


def parse(ref: str) -> Ref:
    """Parse ``NAME[@SPEC]``; a bare name means the latest version."""
    ref = ref.strip()
    name, sep, spec = ref.partition("@")
    check_name(name)
    if sep and not spec:
        raise MlopsError(f"{ref!r}: say which version after '@' (for example {name}@v1)")
    return Ref(name, spec or "latest")
