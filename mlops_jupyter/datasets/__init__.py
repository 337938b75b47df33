"""Data versions on git + DVC: ``from mlops_jupyter import datasets``.

>>> datasets.add("data/temps_1h.csv", name="temps_1h", message="hourly window")
>>> df = datasets.load("temps_1h@v1")
"""

from .api import (
    add,
    add_remote,
    checkout,
    diff,
    info,
    init,
    load,
    pull,
    push,
    remotes,
    show,
    versions,
)
from .catalog import Version
from .diffs import DatasetDiff

__all__ = [
    "DatasetDiff",
    "Version",
    "add",
    "add_remote",
    "checkout",
    "diff",
    "info",
    "init",
    "load",
    "pull",
    "push",
    "remotes",
    "show",
    "versions",
]
