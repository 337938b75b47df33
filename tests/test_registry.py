"""The model registry from a notebook: register a run's model, move aliases, read it back."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from mlops_jupyter import tracking

pytestmark = pytest.mark.both_stores

FIT = """%%track -e temps -n {name} -p alpha={alpha}
from sklearn.linear_model import Ridge
from mlops_jupyter import tracking
import mlflow
X = df[["temp"]].shift(1).fillna(0.0)
model = Ridge(alpha=alpha).fit(X, df["temp"])
mlflow.log_metric("rmse", float(((model.predict(X) - df["temp"]) ** 2).mean() ** 0.5))
tracking.log_model(model, input_example=X.head(3))
"""


@pytest.fixture
def fitted(shell, temps_v1):
    shell.run("df = %dataset load temps@v1")
    shell.run(FIT.format(name="small", alpha=0.1))
    shell.run(FIT.format(name="large", alpha=100.0))
    return shell


def test_register_promote_and_list_models(fitted):
    shell = fitted
    first = shell.run("%track register small --name temps-model --alias champion")
    second = shell.run("%track register large --name temps-model --alias challenger")
    assert (int(first.version), int(second.version)) == (1, 2)
    assert tracking.get_run("temps-model@champion").info.run_name == "small"
    assert tracking.get_run("temps-model/2").info.run_name == "large"

    moved = shell.run("%track promote temps-model@challenger champion")
    assert int(moved.version) == 2
    assert tracking.get_run("temps-model@champion").info.run_name == "large"

    table = shell.run("%track models").set_index("version")
    assert table.loc[2, "aliases"] == "challenger, champion"
    assert table.loc[1, "aliases"] == ""
    assert table.loc[2, "run_name"] == "large"
    assert table.loc[2, "data"] == "temps@v1"
    assert table.loc[2, "metric.rmse"] > 0

    import mlflow

    model = mlflow.pyfunc.load_model("models:/temps-model@champion")
    assert model.metadata.get_input_schema().input_names() == ["temp"]
    assert len(model.predict(shell.user_ns["X"].head(4))) == 4


def test_registry_mistakes_get_one_line(fitted):
    shell = fitted
    shell.run("%track register small --name temps-model --alias champion")
    shell.run("%%track -n no-model\nx = 1")
    cases = {
        "%track register no-model --name temps-model": "logged no model",
        "%track promote temps-model@champoin best": "did you mean: champion",
        "%track promote temps-model/9 best": "has no version 9",
        "%track promote temps-modle@champion best": "did you mean: temps-model",
        "%track promote temps-model/1 v3": "looks like a version number",
        "%track models nosuch": "no registered model 'nosuch'",
    }
    for cell, message in cases.items():
        with pytest.raises(UsageError) as exc:
            shell.run(cell)
        assert message in str(exc.value), cell
