"""Monitoring: drift of served inputs and outputs against the data a model was trained on."""

from .api import compare, drift, reference_of, served_inputs
from .dashboard import dashboard, dashboard_windows
from .estimation import CBPE, DLE, Estimation
from .labels import add as add_labels
from .monitors import Check, Limits, Scorecard
from .monitors import build as scorecard
from .multivariate import MultivariateDrift
from .multivariate import reconstruction_drift as multivariate_drift
from .performance import estimate
from .statistics import ColumnDrift, DriftReport, Thresholds, report
from .trials import compare as compare_trial

__all__ = [
    "CBPE",
    "DLE",
    "Estimation",
    "Check",
    "ColumnDrift",
    "Limits",
    "MultivariateDrift",
    "Scorecard",
    "add_labels",
    "compare",
    "compare_trial",
    "dashboard",
    "dashboard_windows",
    "scorecard",
    "DriftReport",
    "Thresholds",
    "drift",
    "estimate",
    "multivariate_drift",
    "reference_of",
    "report",
    "served_inputs",
]
