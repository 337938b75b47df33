"""Multivariate drift: a change in how columns move together, which no single column shows.

The reference's numeric columns are standardized and compressed with PCA (the components that
explain ``variance`` of it); the drift statistic is the mean reconstruction error of the rows, as
NannyML's "data reconstruction with PCA" defines it. The reference is cut into ``chunks``; the
current data drifts when its error leaves the band of the chunks' errors (mean ± 3 standard
deviations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MlopsError

ROWS_AT_ONCE = 250_000  # current rows standardized and reconstructed at a time


@dataclass(frozen=True)
class MultivariateDrift:
    error: float  # the current data's mean reconstruction error
    low: float  # the band the reference's chunks set
    high: float
    reference_error: float
    components: int
    columns: list[str]

    @property
    def drifted(self) -> bool:
        return not self.low <= self.error <= self.high

    def summary(self) -> str:
        where = "outside" if self.drifted else "within"
        plural = "s" if self.components > 1 else ""
        return (
            f"reconstruction error {self.error:.3g} of {len(self.columns)} columns, {where} the "
            f"reference's band {self.low:.3g}-{self.high:.3g} ({self.components} component{plural})"
        )


def reconstruction_drift(
    reference: Any, current: Any, variance: float = 0.65, chunks: int = 10, min_rows: int = 30
) -> MultivariateDrift:
    """The multivariate drift of ``current`` against ``reference`` (DataFrames; ``current``
    may be read in parts, a ``served.ServedColumns``), over their shared numeric columns (at
    least two)."""
    from sklearn.decomposition import PCA

    columns = [
        c
        for c in reference.columns
        if c in current.columns
        and reference.dtypes[c].kind in "fiub"
        and current.dtypes[c].kind in "fiub"
    ]
    if len(columns) < 2:
        raise MlopsError("multivariate drift needs at least two numeric columns in both samples")
    if len(reference) < chunks * min_rows or len(current) < min_rows:
        raise MlopsError(
            f"multivariate drift needs {chunks * min_rows} reference rows and {min_rows} current "
            f"ones; there are {len(reference)} and {len(current)}"
        )
    ref = np.array(reference[columns], dtype=float)  # a copy, standardized in place
    mean = np.nanmean(ref, axis=0)
    scale = np.nanstd(ref, axis=0)
    scale[scale == 0] = 1.0

    def standard(rows: np.ndarray) -> np.ndarray:
        """``rows`` (a copy of the data), standardized in place; missing: the reference's mean."""
        missing = np.isnan(rows)
        if missing.any():
            rows[missing] = np.broadcast_to(mean, rows.shape)[missing]
        rows -= mean
        rows /= scale
        return rows

    ref = standard(ref)
    pca = PCA(n_components=variance, svd_solver="covariance_eigh").fit(ref)

    def error(rows: np.ndarray) -> np.ndarray:
        restored = pca.inverse_transform(pca.transform(rows))
        return np.linalg.norm(rows - restored, axis=1)

    # the current rows in parts (a file of the log at a time, for windows larger than memory;
    # rows of a part in blocks, whose temporaries stay small)
    parts = current.chunks(columns) if hasattr(current, "chunks") else [current[columns]]
    total = count = 0.0
    for part in parts:
        rows = part[columns].to_numpy(dtype=float)
        for start in range(0, len(rows), ROWS_AT_ONCE):
            errors = error(standard(np.array(rows[start : start + ROWS_AT_ONCE])))
            total, count = total + float(errors.sum()), count + len(errors)

    per_chunk = np.array([error(part).mean() for part in np.array_split(ref, chunks)])
    centre, spread = float(per_chunk.mean()), float(per_chunk.std())
    return MultivariateDrift(
        error=total / count,
        low=max(0.0, centre - 3 * spread),
        high=centre + 3 * spread,
        reference_error=centre,
        components=int(pca.n_components_),
        columns=columns,
    )
