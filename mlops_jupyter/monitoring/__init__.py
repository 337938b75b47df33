"""Monitoring: drift of served inputs and outputs against the data a model was trained on."""

from .drift import ColumnDrift, DriftReport, Thresholds, report

__all__ = ["ColumnDrift", "DriftReport", "Thresholds", "report"]
