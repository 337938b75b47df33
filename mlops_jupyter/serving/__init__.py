"""A registered model behind a validated, logged HTTP API: ``from mlops_jupyter import serving``."""

from .api import Endpoint, logs, metrics, predict, reload, start, status, stop, trial
from .export import export

__all__ = [
    "Endpoint",
    "export",
    "logs",
    "metrics",
    "predict",
    "reload",
    "start",
    "status",
    "stop",
    "trial",
]
