"""A registered model behind a validated, logged HTTP API: ``from mlops_jupyter import serving``."""

from .api import Endpoint, logs, metrics, predict, reload, start, status, stop

__all__ = ["Endpoint", "logs", "metrics", "predict", "reload", "start", "status", "stop"]
