"""mlops-jupyter: the machine-learning lifecycle run from a Jupyter notebook.

``%load_ext mlops_jupyter`` registers the magics; ``from mlops_jupyter import datasets`` is the
plain Python API they are built on. Heavy libraries are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import import_costs

import_costs.install()  # models load, and notebooks run, seconds sooner in each process

__version__ = "0.1.0"
__all__ = [
    "datasets",
    "load_ipython_extension",
    "monitoring",
    "pipelines",
    "serving",
    "tracking",
]


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext mlops_jupyter``."""
    from .magics import register

    register(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (the sidebar's REST API)."""
    return [{"module": "mlops_jupyter.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the sidebar), for ``jupyter labextension develop``."""
    return [{"src": "labextension", "dest": "mlops-jupyter"}]


def __getattr__(name: str) -> Any:
    if name in ("datasets", "tracking", "serving", "pipelines", "monitoring"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
