"""Runs, lineage and the model registry on MLflow: ``from mlops_jupyter import tracking``.

>>> with tracking.run(experiment="temps", params={"alpha": 0.5}) as run:
...     df = datasets.load("temps_1d@v2")          # recorded as the run's input
...     run.log_metric("rmse", 1.2)
>>> tracking.register(run.id, "temps", alias="champion")
"""

from . import lineage
from .api import (
    client,
    compare,
    get_run,
    log_model,
    metric_history,
    models,
    promote,
    register,
    runs,
    validate,
)
from .notebooks import NotebookRun, run_notebook, sweep
from .reproduce import Reproduction, reproduce
from .tracked import Run, current, log_metric, run

__all__ = [
    "NotebookRun",
    "Reproduction",
    "Run",
    "client",
    "compare",
    "current",
    "get_run",
    "log_metric",
    "log_model",
    "metric_history",
    "models",
    "promote",
    "register",
    "reproduce",
    "run",
    "run_notebook",
    "runs",
    "sweep",
    "validate",
]

lineage.observe_loads()  # data loads inside a run become its lineage
