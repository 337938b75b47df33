"""Performance before the labels arrive: NannyML's two methods, on arrays.

**CBPE** (classifiers): the model's scores are calibrated on the reference with
isotonic regression (when cross-validation shows it lowers the calibration error, as NannyML
decides), then each window's expected confusion matrix gives its accuracy, F1 and ROC AUC.
**DLE** (regressors): a gradient-boosted model of the reference's per-row errors (squared for
RMSE, absolute for MAE) from the inputs and the prediction; a window's estimate is the mean of
its rows' predicted errors. Where trees whose paths split on two inputs at most predict those
errors as well as free ones, the models sum into tables over pairs of inputs (``pairwise``) and a
million rows are read in a few lookups.

Every window carries a band (the estimate ± 3 sampling errors) and the alert limits: the
realized metric of the reference's own windows of the same size, mean ± 3 standard deviations.
A window alerts when its estimate leaves those limits.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import MlopsError
from .pairwise import PairTables

SPREAD = 3  # standard deviations of the reference's windows; sampling errors of the band
PAIRS_LOSS = 1.01  # DLE reads trees on pairs of inputs as tables if they err at most 1% more
LOWER_IS_BETTER = {"rmse", "mae"}
NAMES = {"roc_auc": "ROC AUC", "f1": "F1", "accuracy": "accuracy", "rmse": "RMSE", "mae": "MAE"}


@dataclass(frozen=True)
class Window:
    start: int  # row positions in the data estimated: [start, end)
    end: int
    estimate: float
    low: float  # the band of the estimate (± 3 sampling errors)
    high: float
    alert: bool
    realized: float | None = None  # once labels are known


@dataclass
class Estimation:
    """One metric estimated per window, with the limits the reference sets."""

    method: str  # "CBPE" or "DLE"
    metric: str
    reference: float  # the metric realized on the whole reference
    lower: float | None  # alert limits
    upper: float | None
    windows: list[Window] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(w.alert for w in self.windows)

    def frame(self) -> Any:
        import pandas as pd

        rows = [vars(w) | {"metric": self.metric, "method": self.method} for w in self.windows]
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """The last window in one line: ``estimated RMSE 3.1 (2.9-3.3) ...``."""
        last = self.windows[-1]
        name = NAMES.get(self.metric, self.metric)
        text = (
            f"estimated {name} {last.estimate:.4g} ({last.low:.4g}-{last.high:.4g}) on "
            f"{last.end - last.start:,} unlabelled rows; the reference's {self.reference:.4g}, "
            f"limits {_limits(self.lower, self.upper)}"
        )
        if last.realized is not None:
            text += f"; realized {last.realized:.4g}"
        return text

    def __str__(self) -> str:
        return self.summary()


def _limits(lower: float | None, upper: float | None) -> str:
    low = "-inf" if lower is None else f"{lower:.4g}"
    return f"{low}-{'inf' if upper is None else f'{upper:.4g}'}"


def chunks(rows: int, size: int) -> list[tuple[int, int]]:
    """[start, end) of consecutive windows of ``size`` rows (the last one may be shorter)."""
    if size < 1:
        raise MlopsError(f"a window needs at least one row, not {size}")
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def _band(values: np.ndarray, bounds: tuple[float, float]) -> tuple[float | None, float | None]:
    """mean ± 3 standard deviations of the reference windows' metric, within its bounds (no
    limits when no window could compute it, as with one class in each)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return None, None
    centre, spread = float(values.mean()), float(values.std())
    low, high = centre - SPREAD * spread, centre + SPREAD * spread
    return max(low, bounds[0]), min(high, bounds[1])  # not beyond what the metric can reach


def _outside(value: float, limits: tuple[float | None, float | None]) -> bool:
    lower, upper = limits
    return bool((lower is not None and value < lower) or (upper is not None and value > upper))


class CBPE:
    """Confidence-based performance estimation for a classifier.

    Two classes: ``scores`` are the positive class's probability. Any number: one column of
    scores per class (as ``predict_proba`` gives them, in the order of ``classes``), each
    calibrated one class against the rest, then normalized; F1 and ROC AUC are averaged over
    the classes (macro), as NannyML does.

    >>> cbpe = CBPE(chunk_size=5000).fit(reference_scores, reference_labels)
    >>> cbpe.estimate(scores)["roc_auc"].summary()
    >>> CBPE().fit(model.predict_proba(X), y, classes=model.classes_).estimate(proba_later)
    """

    METRICS = ("roc_auc", "f1", "accuracy")

    def __init__(
        self,
        metrics: tuple[str, ...] = METRICS,
        chunk_size: int = 5000,
        threshold: float = 0.5,
    ):
        unknown = [m for m in metrics if m not in self.METRICS]
        if unknown:
            raise MlopsError(f"CBPE estimates {', '.join(self.METRICS)}; not {', '.join(unknown)}")
        self.metrics, self.chunk_size, self.threshold = metrics, chunk_size, threshold
        self.calibrator: Any = None
        self.classes: list[Any] | None = None  # scores given one column per class
        self.calibrators: list[Any] = []  # one per class, of more than two
        self.limits: dict[str, tuple[float | None, float | None]] = {}
        self.reference: dict[str, float] = {}
        self._errors: dict[str, tuple[float, float]] = {}
        self._class_errors: list[dict[str, tuple[float, float]]] = []
        self._label_classes: list[Any] = [0, 1]  # of two: the reference's labels (the last: 1)

    def fit(self, scores: Any, labels: Any, predicted: Any = None, classes: Any = None) -> CBPE:
        """Learn from the reference: ``scores`` (the positive class's probability, or a column
        per class), ``labels`` (0/1 or two classes, the larger one positive; or the classes)
        and ``predicted`` (by default, scores at or above the threshold, or the most likely
        class). ``classes``: the classes in the order of the scores' columns (by default, the
        labels' sorted)."""
        scores = np.asarray(scores, dtype=float)
        if scores.ndim == 2:
            self.classes = _class_list(labels, classes, scores.shape[1])
            labels = _indexes(labels, self.classes, "reference's labels", missing=False)
            if predicted is not None:
                predicted = _indexes(predicted, self.classes, "predictions", missing=False)
            if len(self.classes) > 2:
                return self._fit_classes(scores, labels, predicted)
            scores = scores[:, 1]  # two classes: the second's probability, as sklearn orders them
        y, self._label_classes = _binary(labels)
        if len(scores) != len(y):
            raise MlopsError(f"{len(scores)} scores but {len(y)} labels in the reference")
        predicted = self._predicted(scores, predicted)
        if _needs_calibration(scores, y):
            self.calibrator = Isotonic().fit(scores, y)
        self._limits(_realized, y, scores, predicted)
        self._errors = _sampling_components(y, scores, predicted)
        return self

    def estimate(
        self, scores: Any, predicted: Any = None, labels: Any = None
    ) -> dict[str, Estimation]:
        """Each metric per window of ``chunk_size`` rows (and realized where ``labels`` are
        given: None for a row not labelled yet)."""
        if not self.limits:
            raise MlopsError("fit the estimator on a reference before estimating")
        scores = np.asarray(scores, dtype=float)
        if np.isnan(scores).any():
            raise MlopsError("the scores to estimate from hold missing values")
        if self.classes is not None:
            if scores.ndim != 2 or scores.shape[1] != len(self.classes):
                raise MlopsError(
                    f"give the scores as {len(self.classes)} columns, one per class, as the "
                    "reference's were"
                )
            if predicted is not None:
                predicted = _indexes(predicted, self.classes, "predictions", missing=False)
            if labels is not None:
                labels = _indexes(labels, self.classes, "labels")
            if len(self.classes) > 2:
                return self._estimate_classes(scores, predicted, labels)
            scores = scores[:, 1]
        elif scores.ndim != 1:
            raise MlopsError("give the scores as the reference's were: the positive class's only")
        if labels is not None:  # the reference's positive class, whatever a window holds
            labels = _hits(labels, self._label_classes)
        predicted = self._predicted(scores, predicted)
        calibrated = self.calibrator.predict(scores) if self.calibrator is not None else scores
        return self._windows(
            _expected, _realized, calibrated, scores, predicted, labels,
            lambda metric, rows: _sampling_error(metric, self._errors, rows),
        )  # fmt: skip

    def _fit_classes(self, scores: np.ndarray, y: np.ndarray, predicted: Any) -> CBPE:
        if len(scores) != len(y):
            raise MlopsError(f"{len(scores)} rows of scores but {len(y)} labels in the reference")
        predicted = _most_likely(scores, predicted)
        self.calibrators = [
            Isotonic().fit(scores[:, c], y == c) if _needs_calibration(scores[:, c], _is(y, c))
            else None for c in range(len(self.classes or []))
        ]  # fmt: skip
        self._limits(_realized_classes, y, scores, predicted)
        self._errors = {"accuracy": (float(np.std(y == predicted)), 1.0)}
        self._class_errors = [
            _sampling_components(_is(y, c), scores[:, c], _is(predicted, c), one_of_many=True)
            for c in range(scores.shape[1])
        ]
        return self

    def _estimate_classes(
        self, scores: np.ndarray, predicted: Any, labels: Any
    ) -> dict[str, Estimation]:
        predicted = _most_likely(scores, predicted)
        if len(predicted) != len(scores):
            raise MlopsError(f"{len(predicted)} predictions for {len(scores)} rows of scores")
        calibrated = np.empty((len(scores), len(self.calibrators)), order="F")  # by column
        for c, model in enumerate(self.calibrators):
            calibrated[:, c] = scores[:, c] if model is None else model.predict(scores[:, c])
        total = calibrated.sum(axis=1)
        calibrated[total <= 0] = 1.0  # no class likely at all: each equally
        calibrated /= np.where(total > 0, total, len(self.calibrators))[:, None]
        return self._windows(
            _expected_classes, _realized_classes, calibrated, scores, predicted, labels,
            lambda metric, rows: _class_sampling_error(metric, self._errors, self._class_errors,
                                                       rows),
        )  # fmt: skip

    def _limits(self, realize: Any, y: np.ndarray, scores: Any, predicted: np.ndarray) -> None:
        """Each metric's alert limits from the reference's windows, and its value on all of it
        (``realize``: the metric from labels, scores and predictions)."""
        parts = chunks(len(y), self.chunk_size)
        for metric in self.metrics:
            realized = np.array([realize(metric, y[a:b], scores[a:b], predicted[a:b])
                                 for a, b in parts])  # fmt: skip
            self.limits[metric] = _band(realized, (0.0, 1.0))
            self.reference[metric] = realize(metric, y, scores, predicted)

    def _windows(
        self,
        expect: Any,
        realize: Any,
        calibrated: Any,
        scores: Any,
        predicted: np.ndarray,
        labels: Any,
        error: Any,
    ) -> dict[str, Estimation]:
        """Each metric per window: ``expect``-ed from the calibrated scores, with its band
        (``error``: the sampling error of so many rows) and, where labels are known, realized."""
        result = {m: Estimation("CBPE", m, self.reference[m], *self.limits[m])
                  for m in self.metrics}  # fmt: skip
        for a, b in chunks(len(scores), self.chunk_size):
            known = None if labels is None else ~_missing(labels[a:b])
            for metric in self.metrics:
                value = expect(metric, calibrated[a:b], scores[a:b], predicted[a:b])
                spread = SPREAD * error(metric, b - a)
                realized = None
                if known is not None and known.any():
                    y = labels[a:b][known].astype(int)
                    realized = realize(metric, y, scores[a:b][known], predicted[a:b][known])
                result[metric].windows.append(
                    Window(a, b, value, max(0.0, value - spread), min(1.0, value + spread),
                           _outside(value, self.limits[metric]), realized)
                )  # fmt: skip
        return result

    def _predicted(self, scores: np.ndarray, predicted: Any) -> np.ndarray:
        if predicted is None:
            return (scores >= self.threshold).astype(int)
        values = np.asarray(predicted)
        if len(values) != len(scores):
            raise MlopsError(f"{len(values)} predictions for {len(scores)} scores")
        if values.dtype.kind in "iub" and (
            not len(values) or 0 <= values.min() <= values.max() <= 1
        ):
            return values.astype(int)  # 0/1 already (no sort of a million rows to say so)
        found = set(np.unique(values).tolist())
        if not found <= {0, 1}:
            shown = ", ".join(map(str, sorted(found, key=str)[:3]))
            raise MlopsError(f"predictions hold {shown}: give 0 or 1 (1: the positive class)")
        return values.astype(int)


def _class_list(labels: Any, classes: Any, columns: int) -> list[Any]:
    """The classes the scores' columns stand for: ``classes``, or the labels' own, sorted."""
    if classes is None:
        values = np.asarray(labels)
        classes = np.unique(values[~_missing(values)])
    found = list(np.asarray(classes).tolist())
    if len(found) != columns:
        raise MlopsError(
            f"the scores have {columns} columns but there are {len(found)} classes "
            f"({', '.join(map(str, found[:5]))}): give classes= in the order of the columns"
        )
    if columns < 2:
        raise MlopsError("performance is estimated for two classes or more")
    return found


def _indexes(values: Any, classes: list[Any], what: str, missing: bool = True) -> np.ndarray:
    """Each value's position among ``classes`` (missing values stay None, where ``missing``
    they may be); one line for a value that is not one of them."""
    import pandas as pd

    try:
        codes, found = pd.factorize(np.asarray(values, dtype=object))  # hashed: 1M rows in ms
    except (TypeError, ValueError):  # lists, or a table where a column was meant
        raise MlopsError(f"the {what} must be class values, one per row") from None
    position = {c: i for i, c in enumerate(classes)}
    unknown = [v for v in found.tolist() if v not in position]
    if unknown:
        shown = ", ".join(map(str, sorted(unknown, key=str)[:3]))
        raise MlopsError(
            f"the {what} hold {shown}, not one of the model's classes "
            f"{', '.join(map(str, classes[:10]))}"
        )
    lookup = np.array([position[v] for v in found.tolist()], dtype=int)
    if (codes >= 0).all():
        return lookup[codes]
    if not missing:
        raise MlopsError(f"the {what} hold missing values; drop those rows first")
    positions = np.full(len(codes), None, dtype=object)  # missing: not labelled yet
    positions[codes >= 0] = lookup[codes[codes >= 0]]
    return positions


def _most_likely(scores: np.ndarray, predicted: Any) -> np.ndarray:
    """The predicted classes' positions: those given, or each row's most likely class."""
    return scores.argmax(axis=1) if predicted is None else predicted.astype(int)


def _is(values: np.ndarray, c: int) -> np.ndarray:
    return (values == c).astype(int)


def _expected_classes(metric: str, p: np.ndarray, raw: np.ndarray, predicted: np.ndarray) -> float:
    """A metric's expected value over classes (macro; accuracy: each row's chance of its
    predicted class)."""
    if metric == "accuracy":
        return float(np.mean(p[np.arange(len(p)), predicted]))
    return float(np.mean([_expected(metric, p[:, c], raw[:, c], _is(predicted, c))
                          for c in range(p.shape[1])]))  # fmt: skip


def _realized_classes(
    metric: str, y: np.ndarray, scores: np.ndarray, predicted: np.ndarray
) -> float:
    if metric == "accuracy":
        return float(np.mean(y == predicted))
    return float(np.mean([_realized(metric, _is(y, c), scores[:, c], _is(predicted, c))
                          for c in range(scores.shape[1])]))  # fmt: skip


def _class_sampling_error(metric: str, errors: dict, per_class: list[dict], rows: int) -> float:
    """Accuracy's as for two classes; a macro average's from each class's variance, as NannyML
    has it (ROC AUC's widened by a fifth, which its experiments found it underestimated)."""
    if metric == "accuracy":
        return _sampling_error(metric, errors, rows)
    spread = np.sqrt(sum(_sampling_error(metric, c, rows) ** 2 for c in per_class))
    return float(spread / len(per_class) * (1.2 if metric == "roc_auc" else 1.0))


def _binary(values: Any, what: str = "labels") -> tuple[np.ndarray, Any]:
    """0/1 from two classes (the larger one is 1), and the classes found; one line if there are
    more."""
    values = np.asarray(values)
    classes = np.unique(values[~_missing(values)])
    if len(classes) > 2:
        shown = ", ".join(map(str, classes[:5]))
        raise MlopsError(
            f"performance is estimated for two classes; the {what} hold {len(classes)} ({shown}...)"
        )
    if _missing(values).any():
        raise MlopsError(f"the reference's {what} hold missing values; drop those rows first")
    if set(classes.tolist()) <= {0, 1}:
        return values.astype(int), [0, 1]
    return (values == classes[-1]).astype(int), classes.tolist()


def _hits(labels: Any, classes: list[Any]) -> np.ndarray:
    """1 where a label is the positive class of the reference's ``classes`` (the last), 0 where
    it is another, None where it is missing; labels given as 0/1 are taken as they are."""
    values = np.asarray(labels, dtype=object)
    known = ~_missing(values)
    found = set(values[known].tolist())
    hits = np.full(len(values), None, dtype=object)
    if found <= set(classes):
        hits[known] = (values[known] == classes[-1]).astype(int)
    elif found <= {0, 1}:
        hits[known] = values[known].astype(int)
    else:
        shown = ", ".join(map(str, sorted(found - set(classes), key=str)[:3]))
        raise MlopsError(
            f"the labels hold {shown}, not the reference's {' or '.join(map(str, classes))} "
            "(or 0/1)"
        )
    return hits


def _missing(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values))


class Isotonic:
    """Isotonic regression of 0/1 outcomes on scores (PAVA, scipy's), as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")`` fits and predicts it."""

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Isotonic:
        from scipy.optimize import isotonic_regression

        self.x, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=y) / counts  # tied scores: their mean outcome
        fitted = isotonic_regression(means, weights=counts).x
        keep = np.ones(len(fitted), bool)  # the ends of each flat run are all interp needs
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
        self.x, self.y = self.x[keep], fitted[keep]
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(scores, self.x, self.y)  # beyond the ends: the ends' values


def _needs_calibration(scores: np.ndarray, y: np.ndarray, bins: int = 10) -> bool:
    """NannyML's test: does isotonic calibration lower the expected calibration error on ten
    held-out tenths of the reference (stratified)?"""
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2 or _roc_auc(y, scores) > 0.999:
        return False  # one class (or one row of it), or scores that rank perfectly
    rng = np.random.default_rng(42)
    members = [np.flatnonzero(y == c) for c in (0, 1)]
    truth, raw, calibrated = [], [], []
    for _ in range(10):
        test = np.concatenate([rng.choice(m, max(1, round(0.1 * len(m))), replace=False)
                               for m in members])  # fmt: skip
        train = np.ones(len(y), bool)
        train[test] = False
        model = Isotonic().fit(scores[train], y[train])
        truth.append(y[test])
        raw.append(scores[test])
        calibrated.append(model.predict(scores[test]))
    y_all = np.concatenate(truth)
    return _ece(y_all, np.concatenate(raw), bins) > _ece(y_all, np.concatenate(calibrated), bins)


def _ece(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    """Expected calibration error over bins of equal counts."""
    order = np.argsort(p)
    y, p = y[order], p[order]
    if len(p) <= 2 * bins:
        bins = len(p) // 2
    width = len(p) // bins
    edges = list(range(0, len(p) + 1, width))
    edges[-1] = len(p)
    return float(sum((b - a) / len(p) * abs(p[a:b].mean() - y[a:b].mean())
                     for a, b in zip(edges[:-1], edges[1:], strict=True)))  # fmt: skip


def _expected(metric: str, p: np.ndarray, raw: np.ndarray, predicted: np.ndarray) -> float:
    """The metric's expected value when each row is positive with probability ``p``."""
    if metric == "accuracy":
        return float(np.mean(np.where(predicted == 1, p, 1 - p)))
    if metric == "f1":
        tp = float(np.sum(p[predicted == 1]))
        fp = float(np.sum(1 - p[predicted == 1]))
        fn = float(np.sum(p[predicted == 0]))
        denominator = tp + 0.5 * (fp + fn)
        return tp / denominator if denominator else 0.0
    order = np.argsort(raw)[::-1]  # roc_auc: expected true and false positives down the ranking
    expected_tp: np.ndarray = np.cumsum(p[order])
    expected_fp = 1 + np.arange(len(p)) - expected_tp
    tps = np.asarray(np.round(np.r_[0, expected_tp], 5))
    fps = np.asarray(np.round(np.r_[0, expected_fp], 5))
    if tps[-1] == 0 or fps[-1] == 0:
        return float("nan")
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def _realized(metric: str, y: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> float:
    if metric == "accuracy":
        return float(np.mean(y == predicted))
    if len(np.unique(y)) < 2:
        return float("nan")
    if metric == "f1":
        tp = np.sum((y == 1) & (predicted == 1))
        wrong = np.sum(y != predicted)
        return float(2 * tp / (2 * tp + wrong)) if tp + wrong else 0.0
    return _roc_auc(y, scores)


def _roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve: the Mann-Whitney U of the scores' ranks (ties averaged)."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based, ties share the mean
    positives = int(y.sum())
    negatives = len(y) - positives
    if not positives or not negatives:
        return float("nan")
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _sampling_components(
    y: np.ndarray, scores: np.ndarray, predicted: np.ndarray, one_of_many: bool = False
) -> dict:
    """What each metric's sampling error scales from (NannyML's components; F1's uncorrected
    for one class of many, as NannyML has it)."""
    components = {"accuracy": (float(np.std(y == predicted)), 1.0)}
    relevant = (y == 1) | (predicted == 1)  # true positives, false positives, false negatives
    if relevant.any():
        tp = (y == 1) & (predicted == 1)
        correction = (
            1.0 if one_of_many else relevant.sum() / (0.5 * (relevant.sum() - tp.sum()) + tp.sum())
        )
        per_row = np.where(tp[relevant], 1.0, 0.0) * correction
        components["f1"] = (float(np.std(per_row)), float(relevant.mean()))
    y_flip, s_flip = (1 - y, 1 - scores) if y.mean() > 0.5 else (y, scores)
    order = np.argsort(s_flip, kind="stable")
    ranks = np.unique(np.arange(len(y)) * y_flip[order])[1:]
    positives = int(y_flip.sum())
    if 0 < positives < len(y) and len(ranks):
        per_positive = (ranks - np.arange(len(ranks))) / (len(y) - positives)
        components["roc_auc"] = (float(np.std(per_positive)), positives / len(y))
    return components


def _sampling_error(metric: str, components: dict, rows: int) -> float:
    if metric not in components:
        return float("nan")
    spread, fraction = components[metric]
    return float(spread / np.sqrt(rows * fraction)) if fraction else float("nan")


class DLE:
    """Direct loss estimation for a regressor.

    >>> dle = DLE(chunk_size=5000).fit(reference_inputs, reference_predictions, reference_labels)
    >>> dle.estimate(inputs, predictions)["rmse"].summary()
    """

    METRICS = ("rmse", "mae")

    def __init__(self, metrics: tuple[str, ...] = METRICS, chunk_size: int = 5000):
        unknown = [m for m in metrics if m not in self.METRICS]
        if unknown:
            raise MlopsError(f"DLE estimates {', '.join(self.METRICS)}; not {', '.join(unknown)}")
        self.metrics, self.chunk_size = metrics, chunk_size
        self.models: dict[str, Any] = {}
        self.limits: dict[str, tuple[float | None, float | None]] = {}
        self.reference: dict[str, float] = {}
        self._errors: dict[str, tuple[float, float]] = {}
        self._categories: dict[str, Any] = {}
        self._columns: list[Any] = []
        self._tables: PairTables | None = None

    def fit(self, inputs: Any, predictions: Any, labels: Any) -> DLE:
        """Learn the reference's per-row errors from its ``inputs`` (a DataFrame) and the
        model's ``predictions`` of them, against ``labels``."""
        self.models = {}  # set once fitted
        y = _numbers(labels, "labels")
        pred = _numbers(predictions, "predictions")
        if not len(y) == len(pred) == len(inputs):
            raise MlopsError(
                f"the reference has {len(inputs)} rows, {len(pred)} predictions, {len(y)} labels"
            )
        self._columns = list(inputs.columns)
        # a text column's 255 commonest values (the most a tree's split tells apart); the rest
        # count as missing, as unseen ones do
        self._categories = {c: inputs[c].value_counts().index[:255] for c in inputs.columns
                            if inputs[c].dtype.kind not in "fiub"}  # fmt: skip
        features = self._features(inputs, pred)
        if isinstance(features, list):
            features = np.column_stack(features)
        parts = chunks(len(y), self.chunk_size)
        per_row, pairs, free = {}, {}, {}
        for metric in self.metrics:
            per_row[metric] = (y - pred) ** 2 if metric == "rmse" else np.abs(y - pred)
            pairs[metric] = _error_model(features, per_row[metric], "pairwise")
            free[metric] = _error_model(features, per_row[metric], None)
            realized = np.array([_regression(metric, y[a:b], pred[a:b]) for a, b in parts])
            self.limits[metric] = _band(realized, (0.0, float("inf")))
            self.reference[metric] = _regression(metric, y, pred)
            self._errors[metric] = (  # the per-row errors' spread (and mean square, for RMSE)
                float(np.std(per_row[metric])),
                float(np.mean(per_row[metric])) if metric == "rmse" else 0.0,
            )
        # Trees on pairs of inputs become tables (pairwise.PairTables): a million rows in a few
        # lookups. Where the errors hang on three inputs or more together, they predict worse
        # on the held-out tenth than free trees: then free trees are walked, row by row, fitted
        # as NannyML fits its LightGBM (100 trees, every row; stopped early, they drifted 0.026
        # from NannyML's estimates in bench_estimation, against 0.011)
        self._tables = None
        if all(_held_out(pairs[m]) <= PAIRS_LOSS * _held_out(free[m]) for m in self.metrics):
            self.models = pairs
            with suppress(ValueError):  # tables too large for memory: the same trees, walked
                self._tables = PairTables.of([pairs[m] for m in self.metrics])
        else:
            self.models = {m: _error_model(features, per_row[m], None, 0) for m in self.metrics}
        return self

    def estimate(self, inputs: Any, predictions: Any, labels: Any = None) -> dict[str, Estimation]:
        """Each metric per window of ``chunk_size`` rows (and realized where ``labels`` are
        given: NaN or None for a row not labelled yet)."""
        if not self.models:
            raise MlopsError("fit the estimator on a reference before estimating")
        pred = _numbers(predictions, "predictions")
        features = self._features(inputs, pred)
        if self._tables is not None:
            columns = features if isinstance(features, list) else self._tables.columns(features)
            predicted = self._tables.predict(columns)  # a column per metric
        else:
            X = np.column_stack(features) if isinstance(features, list) else features
            predicted = np.column_stack([self.models[m].predict(X) for m in self.metrics])
        np.maximum(predicted, 0.0, out=predicted)
        truth = None if labels is None else np.asarray(labels, dtype=float)
        result = {m: Estimation("DLE", m, self.reference[m], *self.limits[m]) for m in self.metrics}
        for metric, per_row in zip(self.metrics, predicted.T, strict=True):
            for a, b in chunks(len(pred), self.chunk_size):
                mean = float(per_row[a:b].mean())
                value = float(np.sqrt(mean)) if metric == "rmse" else mean
                spread, square_mean = self._errors[metric]
                error = float(np.sqrt(spread**2 / (4 * (b - a) * square_mean)) if metric == "rmse"
                              else spread / np.sqrt(b - a))  # fmt: skip
                realized = None
                if truth is not None and (~np.isnan(truth[a:b])).any():
                    known = ~np.isnan(truth[a:b])
                    realized = _regression(metric, truth[a:b][known], pred[a:b][known])
                result[metric].windows.append(
                    Window(a, b, value, max(0.0, value - SPREAD * error), value + SPREAD * error,
                           _outside(value, self.limits[metric]), realized)
                )  # fmt: skip
        return result

    def _features(self, inputs: Any, pred: np.ndarray) -> Any:
        """The error models' inputs: the reference's columns, then the prediction. All numbers:
        one array per input (no copy of a million rows); else a DataFrame, string columns as
        categories of the reference."""
        import pandas as pd

        missing = [c for c in self._columns if c not in inputs]
        if missing:
            raise MlopsError(f"the rows to estimate lack the column {missing[0]!r}")
        if not self._categories:
            return [np.asarray(inputs[c], dtype=float) for c in self._columns] + [pred]
        frame = pd.DataFrame(inputs)[self._columns].copy()
        for column, categories in self._categories.items():
            known = frame[column].where(frame[column].isin(categories))  # unseen: missing
            frame[column] = pd.Categorical(known, categories=categories)
        frame["__prediction__"] = pred
        frame.columns = [f"input {i}" for i in range(frame.shape[1])]  # names of one type
        return frame


def _error_model(
    features: Any, per_row: np.ndarray, interactions: str | None, held_out: float = 0.1
) -> Any:
    """LightGBM's defaults, which NannyML uses (up to 100 trees of 31 leaves, rate 0.1); with a
    share ``held_out``, stopped when those rows stop improving (per-row errors are noisy)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
        early_stopping=held_out > 0, validation_fraction=held_out or None, random_state=0,
        categorical_features="from_dtype", interaction_cst=interactions,
    ).fit(features, per_row)  # fmt: skip


def _held_out(model: Any) -> float:
    """The model's loss on the tenth of the reference it held out (the same rows for each)."""
    return float(-model.validation_score_[-1])


def _numbers(values: Any, what: str) -> np.ndarray:
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise MlopsError(f"DLE estimates regressors: the {what} must be numbers") from None
    return numbers


def _regression(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    if metric == "rmse":
        return float(np.sqrt(np.mean((y - pred) ** 2)))
    return float(np.mean(np.abs(y - pred)))
