"""Two libraries that build tables when imported, made cheap for every process that imports them.

- **skops** (MLflow's default format for scikit-learn models) lists the types it trusts at its
  first import by importing every scikit-learn module and scanning numpy and scipy: about 0.8 s
  of CPU (of the 4 s ``import skops.io`` takes) in each process that logs or loads a model (an
  endpoint and each of its workers, a kernel, a reproduction). The lists depend only on the
  installed versions: the first process keeps them in the user's cache, the next ones read them
  back.
- **rfc3987-syntax** (which jsonschema uses, when installed, to check the ``iri`` formats) builds
  39 Earley parsers at import: 3 s of CPU in each process that imports nbformat, papermill or
  jsonschema (a notebook run, each run of a sweep). They are built on first use instead.

Installed when ``mlops_jupyter`` is imported; any trouble falls back to the library's own import.
``benchmarks/bench_imports.py`` measures both.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

SKOPS_TYPES = "skops.io._trusted_types"
GRAMMARS = "rfc3987_syntax"
DEPENDS_ON = ("skops", "scikit-learn", "numpy", "scipy")
# What the rest of skops imports from its types module (every list of its named ``*_TYPE_NAMES``
# is kept; these must be there for a kept copy to be used).
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
    """Make the next imports of those two modules cheap (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def cache_file() -> Path:
    """Where skops's lists for the installed versions are kept."""
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
        if name not in (SKOPS_TYPES, GRAMMARS):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        if name == GRAMMARS:
            spec.loader = _OnFirstUse(spec.loader)
            return spec
        try:
            cache = cache_file()
        except Exception:  # noqa: BLE001 - a version we cannot read: skops's own import
            return spec
        lists = stored(cache)
        if lists is not None:
            return importlib.machinery.ModuleSpec(name, _Stored(lists), origin=str(cache))
        spec.loader = _Storing(spec.loader, cache)
        return spec


class _Wrapping(importlib.abc.Loader):
    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code: tracebacks read them
        return getattr(self.loader, name)


class _Stored(importlib.abc.Loader):
    """skops's types module, made from the kept lists."""

    def __init__(self, lists: dict[str, list[str]]):
        self.lists = lists

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        vars(module).update(self.lists)


class _Storing(_Wrapping):
    """skops's own loader, which then keeps the lists it made."""

    def __init__(self, loader: Any, cache: Path):
        super().__init__(loader)
        self.cache = cache

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        store(module, self.cache)


class _OnFirstUse(_Wrapping):
    """rfc3987-syntax's own loader, run when the module is first used rather than imported:
    its ``is_valid_syntax`` (all jsonschema takes) stands in until then."""

    def exec_module(self, module: Any) -> None:
        lock = threading.Lock()
        loaded = False

        def load() -> None:
            nonlocal loaded
            with lock:
                if not loaded:
                    loaded = True
                    del module.__getattr__, module.is_valid_syntax
                    self.loader.exec_module(module)

        def is_valid_syntax(term: str, value: str) -> bool:
            load()
            return bool(module.is_valid_syntax(term, value))

        def __getattr__(name: str) -> Any:  # noqa: N807 - the module's own (PEP 562)
            if name.startswith("__"):
                raise AttributeError(name)
            load()
            return getattr(module, name)

        module.is_valid_syntax = is_valid_syntax
        module.__getattr__ = __getattr__
