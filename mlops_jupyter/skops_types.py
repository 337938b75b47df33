"""skops's lists of trusted types, kept per environment instead of rebuilt in every process.

MLflow saves scikit-learn models with skops by default. The first ``import skops.io`` in a process
lists the types skops trusts by importing every scikit-learn module and scanning numpy and scipy:
3-4 s of CPU in each process that logs or loads a model (an endpoint and each of its workers, a
kernel, a reproduction). The lists depend only on the installed versions, so the first process
stores them in the user's cache and the next ones read them back. Any trouble with the stored copy
falls back to skops's own import. Installed when ``mlops_jupyter`` is imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

MODULE = "skops.io._trusted_types"
DEPENDS_ON = ("skops", "scikit-learn", "numpy", "scipy")
# What the rest of skops imports from that module (every list of its named ``*_TYPE_NAMES``
# is stored; these must be there for a stored copy to be used).
REQUIRED = (
    "CONTAINER_TYPE_NAMES",
    "NUMPY_DTYPE_TYPE_NAMES",
    "NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES",
    "NUMPY_UFUNC_TYPE_NAMES",
    "PRIMITIVE_TYPE_NAMES",
    "SCIPY_UFUNC_TYPE_NAMES",
    "SKLEARN_ESTIMATOR_TYPE_NAMES",
    "SKLEARN_INTERNAL_TYPE_NAMES",
)


def install() -> None:
    """Serve the next import of skops's trusted types from the cache (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def cache_file() -> Path:
    """Where the lists of the installed versions are kept."""
    from importlib.metadata import version

    python = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    key = "-".join([python, *(f"{name}{version(name)}" for name in DEPENDS_ON)])
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "mlops-jupyter" / f"skops-trusted-types-{key}.json"


def stored(path: Path) -> dict[str, list[str]] | None:
    """The lists kept at ``path``, or None when absent or not what skops needs."""
    try:
        lists = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(lists, dict) or not all(name in lists for name in REQUIRED):
        return None
    for value in lists.values():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
    return lists


def store(module: Any, path: Path) -> None:
    """Keep ``module``'s lists at ``path`` (written whole, or not at all)."""
    lists = {
        name: value
        for name, value in vars(module).items()
        if name.endswith("_TYPE_NAMES") and isinstance(value, list)
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as out:
            json.dump(lists, out)
        os.replace(out.name, path)
    except OSError:  # a read-only home: skops works as before, only slower
        pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != MODULE:
            return None
        try:
            cache = cache_file()
        except Exception:  # noqa: BLE001 - a version we cannot read: skops's own import
            return None
        lists = stored(cache)
        if lists is not None:
            return importlib.machinery.ModuleSpec(name, _Stored(lists), origin=str(cache))
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Storing(spec.loader, cache)
        return spec


class _Stored(importlib.abc.Loader):
    """Makes the module from the kept lists."""

    def __init__(self, lists: dict[str, list[str]]):
        self.lists = lists

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        vars(module).update(self.lists)


class _Storing(importlib.abc.Loader):
    """skops's own loader, which then keeps the lists it made."""

    def __init__(self, loader: Any, cache: Path):
        self.loader, self.cache = loader, cache

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        store(module, self.cache)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code: tracebacks read them
        return getattr(self.loader, name)
