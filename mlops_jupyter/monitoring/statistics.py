"""Data drift per column between a reference and a current sample, with the method that fits.

Numeric columns: a two-sample Kolmogorov-Smirnov test on small samples, the Wasserstein distance
normalized by the reference's standard deviation on large ones. Categorical columns: chi-square
on small samples, the Jensen-Shannon distance on large ones. The Population Stability Index is
reported for every column. Each column is sorted (numeric) or counted (categorical) once, so a
report costs about as much as reading the data.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import MlopsError


@dataclass(frozen=True)
class Thresholds:
    """When a column counts as drifted; ``small`` is the sample size up to which tests are used."""

    ks_pvalue: float = 0.05
    wasserstein: float = 0.1
    chi2_pvalue: float = 0.05
    jensen_shannon: float = 0.1
    psi: float = 0.2
    small: int = 1000
    min_rows: int = 30
    share: float = 0.5  # the dataset drifts when at least this share of its columns do


@dataclass
class ColumnDrift:
    column: str
    kind: str  # "numeric" or "categorical"
    method: str
    statistic: float
    threshold: float
    drifted: bool
    psi: float
    reference_rows: int
    current_rows: int
    note: str = ""


@dataclass
class DriftReport:
    columns: list[ColumnDrift]
    thresholds: Thresholds = field(default_factory=Thresholds)
    reference: str = ""
    skipped: list[str] = field(default_factory=list)  # reference columns never served
    output: ColumnDrift | None = None  # served predictions against the model's on the reference
    multivariate: Any = None  # a MultivariateDrift: the columns' joint change, when measured

    @property
    def share_drifted(self) -> float:
        tested = [c for c in self.columns if c.method != "too few rows"]
        return sum(c.drifted for c in tested) / len(tested) if tested else 0.0

    @property
    def drifted(self) -> bool:
        return self.share_drifted >= self.thresholds.share

    def frame(self) -> Any:
        """One row per input column, then the predictions (``output``) when compared."""
        import pandas as pd

        rows = [{**c.__dict__, "role": "input"} for c in self.columns]
        if self.output is not None:
            rows.append({**self.output.__dict__, "role": "output"})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """One line: the share of drifted columns, the verdict, and the predictions'."""
        against = self.reference or "the reference"
        line = (
            f"{self.share_drifted:.0%} of columns drifted against {against}"
            f" ({'dataset drift' if self.drifted else 'no dataset drift'})"
        )
        if self.output is not None:
            line += f"; predictions {'drifted' if self.output.drifted else 'did not drift'}"
        if self.multivariate is not None and self.multivariate.drifted:
            line += "; how the columns move together drifted (" + self.multivariate.summary() + ")"
        if self.skipped:
            line += f"; never served: {', '.join(self.skipped)}"
        return line


def _kind(values: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "categorical"
    return "numeric"


STEPS_AT_ONCE = 1_000_000  # quantile steps integrated at a time (bounded memory on long logs)


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-Wasserstein distance between two samples, both already sorted (exact)."""
    n, m = len(u), len(v)
    if n == m:
        return float(np.mean(np.abs(u - v)))
    # the quantile functions are steps at i/n and j/m: integrate |Qu - Qv| over both sets of
    # steps (two sorted runs: a stable sort merges them in linear time; repeats weigh nothing),
    # a block of steps at a time
    total, previous = 0.0, 0.0
    for i0, i1, j0, j1 in _blocks(n, m):
        cuts = np.sort(
            np.concatenate((np.arange(i0, i1) / n, np.arange(j0, j1) / m)), kind="stable"
        )
        edges = np.concatenate(([previous], cuts, [1.0] if i1 == n and j1 == m else []))
        mids = (edges[:-1] + edges[1:]) / 2
        qu = u[np.minimum((mids * n).astype(np.int64), n - 1)]
        qv = v[np.minimum((mids * m).astype(np.int64), m - 1)]
        total += float(np.sum(np.abs(qu - qv) * np.diff(edges)))
        previous = float(edges[-1])
    return total


def _blocks(n: int, m: int) -> list[tuple[int, int, int, int]]:
    """The steps 1..n-1 of i/n and 1..m-1 of j/m cut into blocks of whole ranges of value:
    (i0, i1, j0, j1) with every j/m of the block below the next block's first i/n."""
    size = max(1, STEPS_AT_ONCE * n // (n + m))
    blocks, j0 = [], 1
    for i0 in range(1, max(n, 2), size):
        i1 = min(n, i0 + size)
        if i1 == n:
            j1 = m
        else:  # the j/m below i1/n (computed as numpy does: the same floats)
            j1 = max(j0, min(m, i1 * m // n))
            while j1 < m and j1 / m < i1 / n:
                j1 += 1
            while j1 > j0 and (j1 - 1) / m >= i1 / n:
                j1 -= 1
        blocks.append((i0, i1, j0, j1))
        j0 = j1
    return blocks


def ks_sorted(u: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value (scipy's exact/asymptotic choice) for sorted samples."""
    from scipy import stats

    result = stats.ks_2samp(u, v)
    return float(result.statistic), float(result.pvalue)


def psi_numeric(ref_sorted: np.ndarray, cur_sorted: np.ndarray, bins: int = 10) -> float:
    """PSI over the reference's deciles; both samples sorted, so counting is a few lookups."""
    positions = np.linspace(0, len(ref_sorted) - 1, bins + 1).astype(int)[1:-1]
    edges = np.unique(ref_sorted[positions])
    ref_counts = np.diff(
        np.searchsorted(ref_sorted, edges, side="right"), prepend=0, append=len(ref_sorted)
    )
    cur_counts = np.diff(
        np.searchsorted(cur_sorted, edges, side="right"), prepend=0, append=len(cur_sorted)
    )
    return _psi(ref_counts, cur_counts)


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    eps = 1e-4
    p = np.maximum(ref_counts / max(ref_counts.sum(), 1), eps)
    q = np.maximum(cur_counts / max(cur_counts.sum(), 1), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _too_few(name: str, kind: str, rows: tuple[int, int], note: str) -> ColumnDrift:
    """Too few rows for a test: say so, do not guess."""
    return ColumnDrift(name, kind, "too few rows", math.nan, math.nan, False, math.nan, *rows, note)


def _sorted(values: Any) -> np.ndarray:
    """The non-missing values, sorted (a copy sorted in place; NaN sorts last)."""
    array = np.array(values, dtype=np.float64)
    array.sort()
    return array[: len(array) - int(np.count_nonzero(np.isnan(array)))]


def numeric_drift(name: str, reference: Any, current: Any, t: Thresholds) -> ColumnDrift:
    ref, cur = _sorted(reference), _sorted(current)
    rows = (len(ref), len(cur))
    if min(rows) < t.min_rows:
        note = f"needs at least {t.min_rows} non-missing values on each side"
        return _too_few(name, "numeric", rows, note)
    psi = psi_numeric(ref, cur)
    if min(rows) <= t.small:
        _, pvalue = ks_sorted(ref, cur)
        return ColumnDrift(name, "numeric", "Kolmogorov-Smirnov p-value", pvalue, t.ks_pvalue,
                           pvalue < t.ks_pvalue, psi, *rows)  # fmt: skip
    std = float(np.std(ref))
    distance = wasserstein_sorted(ref, cur) / (std if std > 0 else 1.0)
    return ColumnDrift(name, "numeric", "Wasserstein distance (normed)", distance,
                       t.wasserstein, distance > t.wasserstein, psi, *rows)  # fmt: skip


def categorical_drift(name: str, reference: Any, current: Any, t: Thresholds) -> ColumnDrift:
    import pandas as pd
    from scipy import stats
    from scipy.spatial import distance

    ref_counts = pd.Series(reference).value_counts(dropna=True)
    cur_counts = pd.Series(current).value_counts(dropna=True)
    rows = (int(ref_counts.sum()), int(cur_counts.sum()))
    if min(rows) < t.min_rows:
        return _too_few(
            name, "categorical", rows, f"needs at least {t.min_rows} values on each side"
        )
    categories = ref_counts.index.union(cur_counts.index)
    r = ref_counts.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    c = cur_counts.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    psi = _psi(r, c)
    if min(rows) <= t.small:
        expected = np.maximum(r / r.sum(), 1e-4)
        expected = expected / expected.sum() * c.sum()
        pvalue = float(stats.chisquare(c, expected).pvalue)
        return ColumnDrift(name, "categorical", "chi-square p-value", pvalue, t.chi2_pvalue,
                           pvalue < t.chi2_pvalue, psi, *rows)  # fmt: skip
    js = float(distance.jensenshannon(r / r.sum(), c / c.sum()))
    return ColumnDrift(name, "categorical", "Jensen-Shannon distance", js, t.jensen_shannon,
                       js > t.jensen_shannon, psi, *rows)  # fmt: skip


def report(
    reference: Any,
    current: Any,
    columns: list[str] | None = None,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Drift of every shared column (or ``columns``) from ``reference`` to ``current``."""
    t = thresholds or Thresholds()
    names = columns or [c for c in reference.columns if c in set(current.columns)]
    missing = [c for c in names if c not in reference.columns or c not in current.columns]
    if missing:
        raise MlopsError(
            f"column(s) {', '.join(missing)} are not in both the reference and the current data"
        )
    if not names:
        raise MlopsError("the reference and the current data share no columns")

    def one(name: str) -> ColumnDrift:
        ref, cur = reference[name], current[name]
        kind = _kind(ref)
        if kind == "numeric" and _kind(cur) == "numeric":
            return numeric_drift(name, ref.to_numpy(), cur.to_numpy(), t)
        if kind == _kind(cur):  # counted as they are (a Categorical counts fastest)
            return categorical_drift(name, ref, cur, t)
        return categorical_drift(name, ref.astype(str), cur.astype(str), t)  # as text

    if len(names) == 1 or len(reference) + len(current) < 100_000:
        return DriftReport([one(name) for name in names], t)
    from concurrent.futures import ThreadPoolExecutor

    # columns on every core: the sorts and counts release the GIL
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return DriftReport(list(pool.map(one, names)), t)
