"""Monitoring: drift of served inputs and outputs against the data a model was trained on."""

from .api import drift, reference_of, served_inputs
from .drift import ColumnDrift, DriftReport, Thresholds, report

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "Thresholds",
    "drift",
    "reference_of",
    "report",
    "served_inputs",
]
