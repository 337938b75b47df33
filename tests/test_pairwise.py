"""Boosted trees of pairs of inputs read as tables: the models' own predictions, sooner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingRegressor

from mlops_jupyter.monitoring.pairwise import CHUNK, PairTables


def boosted(X, y, **options):
    return HistGradientBoostingRegressor(
        max_iter=30, interaction_cst="pairwise", random_state=0, **options
    ).fit(X, y)


def test_tables_answer_as_the_models_do_on_numbers_missing_and_infinite_values():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 4))
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values in training: they get a side
    y = np.nan_to_num(X[:, 0] * X[:, 1]) + np.abs(np.nan_to_num(X[:, 2])) + rng.normal(size=3_000)
    models = [boosted(X, y), boosted(X, y**2)]
    tables = PairTables.of(models)
    later = rng.normal(2, 3, size=(CHUNK + 500, 4))  # more rows than a part, some far outside
    later[::7, 1] = np.nan
    later[::5, 0], later[::11, 3] = np.inf, -np.inf
    found = tables.predict(tables.columns(later))
    assert found.shape == (len(later), 2)
    for column, model in enumerate(models):
        np.testing.assert_allclose(found[:, column], model.predict(later), rtol=0, atol=1e-9)


def test_tables_answer_as_the_model_does_on_categories_seen_unseen_and_missing():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=4_000),
            "city": pd.Categorical(rng.choice(["ams", "rio", "oslo", "lima"], 4_000)),
        }
    )
    y = frame["size"] * frame["city"].cat.codes + rng.normal(size=4_000)
    model = boosted(frame, y, categorical_features="from_dtype")
    tables = PairTables.of([model])
    later = frame.head(600).copy()
    later["city"] = later["city"].cat.add_categories(["rome"])
    later.loc[later.index[::3], "city"] = "rome"  # a city the model never saw
    later.loc[later.index[::5], "city"] = np.nan
    later.loc[later.index[::4], "size"] = np.nan
    found = tables.predict(tables.columns(later))[:, 0]
    np.testing.assert_allclose(found, model.predict(later), rtol=0, atol=1e-9)


def test_a_tree_splitting_on_three_inputs_is_refused():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2_000, 3))
    free = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, X.prod(axis=1))
    with pytest.raises(ValueError, match="more than two inputs"):
        PairTables.of([free])


@settings(max_examples=20, deadline=None)
@given(
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=40, max_value=400),
    st.floats(min_value=0, max_value=0.5),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_tables_agree_with_the_model_whatever_the_data(inputs, rows, missing, seed):
    rng = np.random.default_rng(seed)
    X = np.round(rng.standard_t(2, size=(rows, inputs)), int(rng.integers(0, 3)))  # ties, tails
    X[rng.random(X.shape) < missing] = np.nan
    y = np.nansum(X, axis=1) ** 2 * rng.uniform(-2, 2) + rng.normal(size=rows)
    model = boosted(X, y, min_samples_leaf=5)
    tables = PairTables.of([model])
    later = rng.normal(0, 4, size=(200, inputs))
    later[rng.random(later.shape) < missing] = np.nan
    found = tables.predict(tables.columns(later))[:, 0]
    np.testing.assert_allclose(found, model.predict(later), rtol=1e-9, atol=1e-9)
