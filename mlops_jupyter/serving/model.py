"""The model behind an endpoint: loaded once per worker, inputs checked against its signature.

A scikit-learn model with a numeric signature is called directly on a float array built from
the request (no DataFrame on the hot path); any other model goes through MLflow's pyfunc.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from .protocols import BadRequest, Batch

NUMERIC = {"double", "float", "long", "integer"}


@dataclass
class ServedModel:
    name: str  # the registered model (or the run's model) name
    version: str
    uri: str
    run_id: str | None
    input_names: list[str]
    input_types: list[str]
    pyfunc: Any = field(repr=False)
    estimator: Any = field(default=None, repr=False)
    direct: Any = field(default=None, repr=False)  # the same predictions without sklearn's checks

    @property
    def fast(self) -> bool:
        return self.estimator is not None

    def check(self, batch: Batch) -> list[list[Any]]:
        """The batch's columns in signature order, after checking names and types."""
        if not self.input_names:
            return batch.columns
        given = set(batch.names)
        missing = [n for n in self.input_names if n not in given]
        extra = [n for n in batch.names if n not in set(self.input_names)]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected column(s) {', '.join(extra)}")
            raise BadRequest(
                f"{'; '.join(parts)}; the model expects {', '.join(self.input_names)}", 422
            )
        index = {n: i for i, n in enumerate(batch.names)}
        ordered = [batch.columns[index[n]] for n in self.input_names]
        for i, (name, kind) in enumerate(zip(self.input_names, self.input_types, strict=True)):
            if kind in NUMERIC:  # numbers (CSV gives text), for the model and the log
                ordered[i] = _numbers(name, kind, ordered[i])
            elif kind == "string":
                _strings(name, ordered[i])
        return ordered

    def predict(self, columns: list[list[Any]], names: list[str]) -> list[Any]:
        """Predictions for checked columns, as plain Python values."""
        if self.fast:
            import numpy as np

            matrix = np.array(columns, dtype=np.float64).T
            predict = self.direct or self.estimator.predict
            return list(predict(matrix).tolist())
        import pandas as pd

        frame = pd.DataFrame(dict(zip(names, columns, strict=True)))
        result = self.pyfunc.predict(frame)
        if hasattr(result, "tolist"):
            return list(result.tolist())
        if hasattr(result, "to_dict"):
            return list(result.to_dict(orient="records"))
        return list(result)


def _numbers(name: str, kind: str, values: list[Any]) -> list[Any]:
    """``values`` as finite floats (ints for integer columns); 422 naming the first misfit."""
    if kind in ("long", "integer"):
        return [_whole(name, kind, row, v) for row, v in enumerate(values)]
    try:
        numbers = [float(v) for v in values]
        if math.isfinite(math.fsum(numbers)):
            return numbers
    except (TypeError, ValueError, OverflowError):
        pass
    for row, value in enumerate(values):  # the slow path, only to name the value
        _float(name, kind, row, value)
    return numbers  # finite values whose sum overflowed


def _float(name: str, kind: str, row: int, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(
            f"column {name!r} expects {kind}, got {type(value).__name__} "
            f"{_short(value)} (row {row})",
            422,
        ) from None
    if not math.isfinite(number):
        raise BadRequest(f"column {name!r} row {row}: {_short(value)} is not a finite number", 422)
    return number


def _whole(name: str, kind: str, row: int, value: Any) -> int:
    if type(value) is not int:
        number = _float(name, kind, row, value)
        if not number.is_integer():
            raise BadRequest(
                f"column {name!r} expects {kind} (a whole number), got {_short(value)} (row {row})",
                422,
            )
        try:  # "12345678901234567890" keeps its digits; 1e3 and 2.0 are whole too
            value = int(value) if isinstance(value, str) else int(number)
        except ValueError:
            value = int(number)
    if not -(2**63) <= value < 2**63:
        raise BadRequest(f"column {name!r} row {row}: {_short(value)} is out of range", 422)
    return int(value)


def _strings(name: str, values: list[Any]) -> None:
    for row, value in enumerate(values):
        if not isinstance(value, str) and value is not None:
            raise BadRequest(
                f"column {name!r} expects string, got {type(value).__name__} "
                f"{_short(value)} (row {row})",
                422,
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load(uri: str, name: str, version: str, run_id: str | None) -> ServedModel:
    """Load the model at ``uri`` (``models:/M/3``, ``runs:/...``) for serving."""
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(uri)
    schema = pyfunc.metadata.get_input_schema()
    names: list[str] = []
    types: list[str] = []
    if schema is not None and schema.has_input_names():
        names = list(schema.input_names())
        types = [str(getattr(t, "name", t)) for t in schema.input_types()]
    estimator = None
    if "sklearn" in pyfunc.metadata.flavors and names and set(types) <= NUMERIC:
        estimator = mlflow.sklearn.load_model(uri)
        # the estimator was fitted on a DataFrame; the fast path hands it the same columns as
        # an array, in signature order
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
    direct = compile_linear(estimator, len(names)) if estimator is not None else None
    return ServedModel(name, version, uri, run_id, names, types, pyfunc, estimator, direct)


def compile_linear(estimator: Any, width: int) -> Any:
    """For a linear model, ``predict`` as its plain arithmetic (sklearn's own formula).

    scikit-learn spends ~200 us per call checking and dispatching before 4 us of arithmetic.
    The compiled function is used only if it gives exactly the estimator's predictions on a
    random sample; otherwise (pipelines, other models) None, and sklearn's predict is used.
    """
    import numpy as np
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel

    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", 0.0)
    if coef is None or not isinstance(estimator, (LinearModel, LinearClassifierMixin)):
        return None
    coef_t = np.asarray(coef).T
    if isinstance(estimator, LinearClassifierMixin):
        classes = estimator.classes_

        def predict(X: Any) -> Any:
            scores = X @ coef_t + intercept
            if scores.shape[1] == 1:
                return classes[(scores[:, 0] > 0).astype(int)]
            return classes[scores.argmax(axis=1)]

    else:

        def predict(X: Any) -> Any:
            return X @ coef_t + intercept

    sample = np.random.default_rng(0).normal(scale=3.0, size=(256, width))
    try:
        same = np.array_equal(predict(sample), estimator.predict(sample))
    except Exception:  # noqa: BLE001 - any doubt: use sklearn
        return None
    return predict if same else None
