"""How well an endpoint's model does on its traffic: estimated before labels arrive (CBPE for a
classifier, DLE for a regressor; see estimation.py), realized where they have.

The reference is the data the served model's run trained on (its lineage), or a dataset version
or DataFrame given: held-out data gives honest limits, the training data optimistic ones. It
needs the truth column (``target``: by default the one column the model does not take).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import MlopsError, first_line
from .estimation import CBPE, DLE, Estimation

PathLike = str | os.PathLike[str]
WINDOWS = 10  # the reference is cut into at least this many windows for the limits
MIN_ROWS = 30
_FITTED: dict[tuple[Any, ...], Any] = {}  # one fitted estimator per model and reference


def estimate(
    endpoint: str,
    window: str | int | tuple[float, float] | None = "7d",
    reference: Any = None,
    target: str | None = None,
    chunk_size: int | None = None,
    project: PathLike | None = None,
    version: str | None = None,
) -> dict[str, Estimation]:
    """Each metric of the served model estimated per window of ``chunk_size`` rows of what
    ``endpoint`` answered in ``window``, realized too where labels arrived.

    ``chunk_size`` defaults to a tenth of the reference, or all the traffic if that is less.
    ``version``: only what that model version answered.
    """
    import numpy as np

    from . import api
    from .labels import per_row, stored

    # every column of every row at once: on a window larger than memory, its newest part
    table = api.answered(endpoint, api.newest_part(endpoint, window, project), project, version)
    current = api.inputs_of(table)
    served = api.outputs_of(table)
    if served is None:
        raise MlopsError(f"{endpoint} answers several values per row: no metric to estimate")
    model, columns = _model(endpoint, project)
    if reference is None:
        reference, label = api.reference_of(endpoint, project)
    elif isinstance(reference, str):
        from .. import datasets

        label, reference = reference, datasets.load(reference, project=project)
    else:
        label = "the DataFrame given"
    raw = model.get_raw_model() if hasattr(model, "get_raw_model") else None
    proba = getattr(raw, "predict_proba", None)
    classes = list(getattr(raw, "classes_", []))
    if proba is not None and len(classes) < 2:
        raise MlopsError(f"{endpoint}'s classifier knows {len(classes)} class: nothing to estimate")
    if proba is None and served.dtype.kind not in "fiu":
        raise MlopsError(
            f"{endpoint}'s model gives no class probabilities: its performance cannot be estimated"
        )

    def fits(values: Any) -> bool:  # could this column be the truth the model predicts?
        if proba is not None:
            found = set(values.dropna().unique().tolist())
            return len(found) >= 2 and found <= set(classes)
        return values.dtype.kind in "fiu"

    target = _target(reference, columns, target, label, fits)
    reference = reference.dropna(subset=[target])  # a row without its truth teaches nothing
    if len(reference) < WINDOWS * MIN_ROWS:
        raise MlopsError(
            f"the reference ({label}) has {len(reference)} rows with a truth; estimating needs "
            f"{WINDOWS * MIN_ROWS} to set its limits"
        )
    size = chunk_size or max(MIN_ROWS, min(len(reference) // WINDOWS, len(current)))
    missing = [c for c in columns if c not in current.columns]
    if missing:
        raise MlopsError(f"{endpoint}'s log lacks the model's column(s) {', '.join(missing)}")
    truth = stored(endpoint, project)
    labels = None if truth is None else per_row(table, truth)
    given = label == "the DataFrame given"  # a DataFrame may change: fitted again each time
    key = (_model_key(endpoint, project), label, target, size)
    estimator = None if given else _FITTED.get(key)
    if proba is not None:
        _classes_of(reference[target], classes, label)
        if estimator is None:
            scores = _scored(lambda: proba(reference[columns]), endpoint, label)
            estimator = CBPE(chunk_size=size).fit(scores, reference[target], classes=classes)
            if not given:
                _FITTED[key] = estimator
        scores = _scored(lambda: proba(current[columns]), endpoint, "its traffic")
        return estimator.estimate(scores, served.to_numpy(dtype=object), labels)
    if estimator is None:
        predictions = _scored(lambda: model.predict(reference[columns]), endpoint, label)
        predictions = np.asarray(predictions, dtype=float).ravel()
        estimator = DLE(chunk_size=size).fit(reference[columns], predictions, reference[target])
        if not given:
            _FITTED[key] = estimator
    numbers = None if labels is None else np.array([np.nan if v is None else v for v in labels],
                                                   dtype=float)  # fmt: skip
    return estimator.estimate(current[columns], served.to_numpy(dtype=float), numbers)


def _scored(predict: Any, endpoint: str, rows: str) -> Any:
    """What the model says of ``rows``; one line if it cannot (missing values, say)."""
    try:
        return predict()
    except MlopsError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's model: whatever it raises, one line
        raise MlopsError(
            f"{endpoint}'s model could not score {rows} to estimate "
            f"({type(e).__name__}: {first_line(e)})"
        ) from None


def _classes_of(truth: Any, classes: list[Any], label: str) -> None:
    """One line unless the truth column holds two or more of the model's classes, and only
    those."""
    values = set(truth.dropna().unique().tolist())
    if not values <= set(classes) or len(values) < 2:
        shown = ", ".join(map(str, sorted(values, key=str)[:5]))
        raise MlopsError(
            f"the reference's truth column {truth.name!r} ({label}) holds {shown}, not the "
            f"model's classes {', '.join(map(str, classes[:10]))}: name it with target=COLUMN"
        )


def _model(endpoint: str, project: PathLike | None) -> tuple[Any, list[str]]:
    """The served pyfunc and its input columns."""
    from .api import served_model

    model = served_model(endpoint, project)
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise MlopsError(f"{endpoint}'s model has no named input columns: log it with a signature")
    return model, list(schema.input_names())


def _model_key(endpoint: str, project: PathLike | None) -> str:
    from ..serving import endpoints

    return str(endpoints.record_of(endpoints.get(endpoint, project))["uri"])


def _target(reference: Any, columns: list[str], target: str | None, label: str, fits: Any) -> str:
    """The truth column: ``target``, or the one column of the reference that the model does not
    take and that holds what it predicts (numbers, or its classes)."""
    if target is not None:
        if target not in reference.columns:
            raise MlopsError(f"no column {target!r} in the reference ({label})")
        return target
    left = [c for c in reference.columns if c not in set(columns)]
    likely = [c for c in left if fits(reference[c])]
    if len(likely) != 1:
        raise MlopsError(
            f"name the reference's truth column: target=COLUMN (the reference {label} has "
            f"{', '.join(map(str, left)) or 'no column'} beside the model's inputs)"
        )
    return str(likely[0])
