"""Monitoring: drift of served inputs and outputs against the data a model was trained on."""

from .api import drift, reference_of, served_inputs
from .drift import ColumnDrift, DriftReport, Thresholds, report
from .labels import add as add_labels
from .scorecard import Check, Limits, Scorecard
from .scorecard import build as scorecard

__all__ = [
    "Check",
    "ColumnDrift",
    "Limits",
    "Scorecard",
    "add_labels",
    "scorecard",
    "DriftReport",
    "Thresholds",
    "drift",
    "reference_of",
    "report",
    "served_inputs",
]
