"""The model behind an endpoint: loaded once per worker, inputs checked against its signature.

A scikit-learn model with a numeric signature is called directly on a float array built from
the request (no DataFrame on the hot path); any other model goes through MLflow's pyfunc.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from .protocols import BadRequest, Batch

log = logging.getLogger("mlops_jupyter.serving")
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

    optional: frozenset[str] = frozenset()  # signature columns a request may leave out
    schema: Any = field(default=None, repr=False)  # MLflow's input schema
    predict_fn: str = "predict"  # the estimator's method the model was logged with
    batchable: bool = False  # predictions of rows together equal those of each row alone
    call_seconds: float = 1.0  # how long its last call took (the batcher measures it)
    raw: Any = field(default=None, repr=False)  # a scikit-learn model behind the pyfunc
    compiled: str = ""  # what ``direct`` is: "linear" or "trees" (Treelite)

    @property
    def fast(self) -> bool:
        return self.estimator is not None

    @property
    def required(self) -> list[str]:
        return [n for n in self.input_names if n not in self.optional]

    def check(self, batch: Batch) -> tuple[list[str], list[list[Any]]]:
        """The batch's column names and values in signature order, after checking names and
        types (values kept JSON-safe for the log: dates and base64 stay text)."""
        if not self.input_names:
            return batch.names, batch.columns
        given = set(batch.names)
        missing = [n for n in self.required if n not in given]
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
        names, ordered = [], []
        for name, kind in zip(self.input_names, self.input_types, strict=True):
            if name not in index:
                continue  # an optional column left out
            values = batch.columns[index[name]]
            check = CHECKS.get(kind)
            if check is not None:
                values = check(name, kind, values, name in self.optional)
            names.append(name)
            ordered.append(values)
        return names, ordered

    def predict(self, columns: list[list[Any]], names: list[str]) -> list[Any]:
        """Predictions for checked columns, as plain Python values."""
        if self.fast:
            import numpy as np

            matrix = np.array(columns, dtype=np.float64).T
            predict = self.direct or getattr(self.estimator, self.predict_fn)
            return list(predict(matrix).tolist())
        frame, typed = self.frame(columns, names)
        if self.raw is not None and typed and names == self.input_names:
            # what MLflow's wrapper would call, without its schema check on a frame already
            # typed as the signature says (a fifth of a Pipeline's call)
            result = getattr(self.raw, self.predict_fn)(frame)
        else:
            result = self.pyfunc.predict(frame)
        if hasattr(result, "tolist"):
            return list(result.tolist())
        if hasattr(result, "to_dict"):
            return list(result.to_dict(orient="records"))
        return list(result)

    def frame(self, columns: list[list[Any]], names: list[str]) -> tuple[Any, bool]:
        """Checked columns as the DataFrame `mlflow models serve` hands the model: each column
        typed as the signature declares it; True when typed here (else MLflow's cast did it)."""
        import numpy as np
        import pandas as pd

        kinds = dict(zip(self.input_names, self.input_types, strict=True))
        if all(kinds.get(n) in DTYPES for n in names) and not any(None in c for c in columns):
            # the usual case, typed as they are built (MLflow's cast would copy each again)
            typed = {
                n: np.asarray(c, DTYPES[kinds[n]]) for n, c in zip(names, columns, strict=True)
            }
            return pd.DataFrame(typed), True
        frame = pd.DataFrame(dict(zip(names, columns, strict=True)))
        for name, kind in kinds.items():
            if kind == "datetime" and name in frame:  # any ISO 8601 form, row by row
                frame[name] = pd.to_datetime(frame[name], format="ISO8601")
        if self.schema is not None and self.input_names:
            from mlflow.utils.proto_json_utils import cast_df_types_according_to_schema

            frame = cast_df_types_according_to_schema(frame, self.schema)
        return frame, False


# Signature types whose checked values become a column by one numpy conversion.
DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32",
          "boolean": "bool", "string": "object"}  # fmt: skip


def _numbers(name: str, kind: str, values: list[Any], optional: bool = False) -> list[Any]:
    """``values`` as finite floats (ints for integer columns); 422 naming the first misfit.
    An optional column may hold nulls."""
    one = _whole if kind in INT_RANGE else _float
    if optional and any(v is None for v in values):
        return [None if v is None else one(name, kind, row, v) for row, v in enumerate(values)]
    if kind in INT_RANGE:
        return [_whole(name, kind, row, v) for row, v in enumerate(values)]
    try:
        numbers = [float(v) for v in values]
        if math.isfinite(math.fsum(numbers)) and not any(v is True or v is False for v in values):
            return numbers
    except (TypeError, ValueError, OverflowError):
        pass
    for row, value in enumerate(values):  # the slow path, only to name the value
        _float(name, kind, row, value)
    return numbers  # finite values whose sum overflowed


def _float(name: str, kind: str, row: int, value: Any) -> float:
    if isinstance(value, bool):
        raise _misfit(name, kind, row, value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _misfit(name, kind, row, value) from None
    if not math.isfinite(number):
        raise BadRequest(f"column {name!r} row {row}: {_short(value)} is not a finite number", 422)
    return number


INT_RANGE = {"integer": 2**31, "long": 2**63}


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
    bound = INT_RANGE[kind]
    if not -bound <= value < bound:
        raise BadRequest(
            f"column {name!r} row {row}: {_short(value)} is out of range for {kind}", 422
        )
    return int(value)


def _strings(name: str, kind: str, values: list[Any], optional: bool) -> list[Any]:
    for row, value in enumerate(values):
        if not isinstance(value, str) and not (value is None and optional):
            raise _misfit(name, kind, row, value)
    return values


TRUE, FALSE = {"true", "True", "TRUE", "1"}, {"false", "False", "FALSE", "0"}


def _booleans(name: str, kind: str, values: list[Any], optional: bool) -> list[Any]:
    """JSON's true and false; from CSV text, true/false or 1/0."""
    out: list[Any] = []
    for row, value in enumerate(values):
        if isinstance(value, bool) or (value is None and optional):
            out.append(value)
        elif isinstance(value, str) and (value in TRUE or value in FALSE):
            out.append(value in TRUE)
        elif type(value) is int and value in (0, 1):
            out.append(bool(value))
        else:
            raise _misfit(name, kind, row, value)
    return out


def _datetimes(name: str, kind: str, values: list[Any], optional: bool) -> list[Any]:
    """ISO 8601 text (kept as text: MLflow parses it for the model)."""
    from datetime import datetime

    expects = "datetime (ISO 8601 text such as '2024-05-01T12:30:00')"
    return _parsed_text(name, values, optional, datetime.fromisoformat, expects)


def _binaries(name: str, kind: str, values: list[Any], optional: bool) -> list[Any]:
    """base64 text (kept as text: MLflow decodes it for the model)."""
    import base64

    def decode(value: Any) -> Any:
        return base64.b64decode(value, validate=True)

    return _parsed_text(name, values, optional, decode, "binary as base64 text")


def _parsed_text(
    name: str, values: list[Any], optional: bool, parse: Any, expects: str
) -> list[Any]:
    """``values`` unchanged if ``parse`` reads each (nulls too, when ``optional``); else a 422
    naming the first misfit (binascii.Error is a ValueError)."""
    for row, value in enumerate(values):
        if value is None and optional:
            continue
        try:
            parse(value)
        except (TypeError, ValueError):
            raise BadRequest(
                f"column {name!r} expects {expects}, got {_short(value)} (row {row})", 422
            ) from None
    return values


def _misfit(name: str, kind: str, row: int, value: Any) -> BadRequest:
    return BadRequest(
        f"column {name!r} expects {kind}, got {type(value).__name__} {_short(value)} (row {row})",
        422,
    )


CHECKS = {
    "integer": _numbers,
    "long": _numbers,
    "float": _numbers,
    "double": _numbers,
    "string": _strings,
    "boolean": _booleans,
    "datetime": _datetimes,
    "binary": _binaries,
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load(uri: str, name: str, version: str, run_id: str | None) -> ServedModel:
    """Load the model at ``uri`` (``models:/M/3``, ``runs:/...``) for serving."""
    import mlflow

    from ..tracking import environment

    folder = mlflow.artifacts.download_artifacts(artifact_uri=uri)  # a local folder: as it is
    differ = environment.pin_mismatches(environment.pins(folder))
    if differ:
        log.warning("the model pins other versions than are installed: %s", "; ".join(differ))
    # MLflow's own check of the same scans every installed file (1 s in each worker)
    pyfunc = mlflow.pyfunc.load_model(folder, suppress_warnings=True)
    schema = pyfunc.metadata.get_input_schema()
    columns = signature_columns(schema) or {}
    names = list(columns)
    types = [kind for kind, _ in columns.values()]
    optional = frozenset(n for n, (_, required) in columns.items() if not required)
    estimator = None
    if "sklearn" in pyfunc.metadata.flavors and names and set(types) <= NUMERIC and not optional:
        estimator = pyfunc.get_raw_model()  # the estimator the pyfunc wraps, not loaded twice
        # the estimator was fitted on a DataFrame; the fast path hands it the same columns as
        # an array, in signature order
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
    # `pyfunc_predict_fn` at logging time: predict_proba, predict_log_proba, score_samples...
    predict_fn = pyfunc.metadata.flavors.get("python_function", {}).get("predict_fn", "predict")
    direct, compiled = None, ""
    if estimator is not None and predict_fn == "predict":
        for kind, compile_ in (("linear", compile_linear), ("trees", compile_trees)):
            direct = compile_(estimator, len(names))
            if direct is not None:
                compiled = kind
                break
    served = ServedModel(
        name, version, uri, run_id, names, types, pyfunc, estimator, direct, optional, schema,
        predict_fn,
    )  # fmt: skip
    served.compiled = compiled
    if estimator is None and "sklearn" in pyfunc.metadata.flavors and names:
        served.raw = pyfunc.get_raw_model()  # a Pipeline of mixed columns, say
    served.batchable = batchable(served)
    return served


def signature_columns(schema: Any) -> dict[str, tuple[str, bool]] | None:
    """An MLflow input schema's columns, name -> (type, required); None without named inputs."""
    if schema is None or not schema.has_input_names():
        return None
    return {
        spec.name: (str(getattr(spec.type, "name", spec.type)), spec.required)
        for spec in schema.inputs
    }


def batchable(model: ServedModel) -> bool:
    """Whether ``model`` predicts its input example's rows together as it predicts each alone
    (so that concurrent requests may share one call); False when that cannot be checked."""
    import pandas as pd

    example = getattr(model.pyfunc, "input_example", None)
    if not isinstance(example, pd.DataFrame) or example.empty or not model.input_names:
        return False
    if len(example) < 2:
        example = pd.concat([example, example], ignore_index=True)
    names = [n for n in model.input_names if n in example]
    try:
        names, columns = model.check(Batch(names, [example[n].tolist() for n in names]))
        together = model.predict(columns, names)
        alone = [model.predict([[c[i]] for c in columns], names)[0] for i in range(len(example))]
    except Exception:  # noqa: BLE001 - any doubt: one call per request
        return False
    return len(together) == len(alone) and all(map(_same, together, alone))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


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


def compile_trees(estimator: Any, width: int) -> Any:
    """For a tree-ensemble regressor, ``predict`` through Treelite's C++ interpreter (GTIL).

    scikit-learn predicts a HistGradientBoosting model tree by tree in Python: ~0.7 ms a call
    for one row, against ~35 us in Treelite. Used only if its predictions agree with the
    estimator's (to 1e-12: the sums may differ in their last bit) on a random sample; otherwise
    (classifiers, pipelines, models Treelite cannot import, Python before 3.11) None.
    """
    import numpy as np
    from sklearn.base import is_regressor

    if not is_regressor(estimator):
        return None
    try:
        import treelite.gtil
        import treelite.sklearn

        model = treelite.sklearn.import_model(estimator)
    except Exception:  # noqa: BLE001 - not installed, or not a model it imports: sklearn
        return None

    def predict(X: Any) -> Any:
        return treelite.gtil.predict(model, X, nthread=1).reshape(len(X))

    sample = np.random.default_rng(0).normal(scale=3.0, size=(256, width))
    try:
        same = np.allclose(predict(sample), estimator.predict(sample), rtol=1e-12, atol=1e-12)
    except Exception:  # noqa: BLE001 - any doubt: use sklearn
        return None
    return predict if same else None
