"""``%%track`` in an IPython shell: what a run records, lineage, failures, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from IPython.core.error import UsageError

from mlops_jupyter import tracking
from mlops_jupyter.errors import MlopsError


@pytest.mark.both_stores
def test_a_tracked_cell_records_what_is_needed_to_compare_and_redo_it(shell, temps_v1, project):
    shell.run("df = %dataset load temps@v1")  # loaded before the run: recorded as preloaded
    value = shell.run(
        "%%track -e temps -n ridge -p alpha=0.5 -p model=ridge --seed 11\n"
        "import random, mlflow\n"
        "from mlops_jupyter import tracking\n"
        "mlflow.log_metric('rmse', 1.25)\n"
        "for step in range(300):\n"
        "    tracking.log_metric('loss', 1 / (step + 1), step=step)\n"
        "draw = random.random()\n"
        "alpha * 2"
    )
    assert value == 1.0  # the last expression is the cell's value; parameters are variables
    assert mlflow.active_run() is None

    run = tracking.get_run("ridge")
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.5", "model": "ridge"}
    assert run.data.metrics["rmse"] == 1.25
    history = tracking.client().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(300))
    tags = run.data.tags
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True)
    assert tags["mlflow.source.git.commit"] == head.stdout.decode().strip()
    assert tags["mlops.git.dirty"] == "false"
    assert tags["mlops.seed"] == "11" and tags["mlops.python"] == ".".join(
        map(str, sys.version_info[:3])
    )
    import random

    random.seed(11)
    assert shell.user_ns["draw"] == random.random()  # the recorded seed was applied

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "temps@v1"
    assert dataset_input.dataset.digest == temps_v1.md5
    assert json.loads(tags["mlops.datasets"])[0]["md5"] == temps_v1.md5

    client = tracking.client()
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "code")}
    assert artifacts == {"code/cell.py", "code/history.json"}
    folder = client.download_artifacts(run.info.run_id, "environment")
    requirements = Path(folder, "requirements.txt").read_text()
    assert f"mlflow=={mlflow.__version__}" in requirements


def test_loads_inside_the_run_are_training_inputs(shell, temps_v1):
    shell.run("%%track -n inside\ndf = %dataset load temps\n")
    (dataset_input,) = tracking.get_run("inside").inputs.dataset_inputs
    assert dataset_input.tags[0].value == "training"
    assert json.loads(dataset_input.dataset.source)["requested"] == "temps"


@pytest.mark.both_stores
def test_a_failing_cell_ends_its_run_failed_and_leaves_none_active(shell, project):
    with pytest.raises(ZeroDivisionError):
        shell.run("%%track -n broken\nx = 1\n1 / 0")
    assert mlflow.active_run() is None
    run = tracking.get_run("broken")
    assert run.info.status == "FAILED"
    assert run.data.tags["mlops.error"] == "ZeroDivisionError: division by zero"
    shell.run("%%track -n after\nx = 2")  # the next cell starts a fresh run
    assert tracking.get_run("after").info.status == "FINISHED"


def test_an_interrupted_cell_ends_its_run_killed(shell, project):
    with pytest.raises(KeyboardInterrupt):
        shell.run("%%track -n stopped\nraise KeyboardInterrupt")
    assert tracking.get_run("stopped").info.status == "KILLED"
    assert mlflow.active_run() is None


def test_runs_are_ordinary_mlflow_runs(shell, project):
    shell.run("%%track -e temps -n plain -p alpha=2\nimport mlflow\nmlflow.log_metric('rmse', 3.5)")
    run = tracking.get_run("plain")
    env = {"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "PATH": sys.prefix + "/bin"}
    described = subprocess.run(
        [sys.executable, "-m", "mlflow", "runs", "describe", "--run-id", run.info.run_id],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    payload = json.loads(described.stdout[described.stdout.index("{") :])
    assert payload["data"]["params"] == {"alpha": "2"}
    assert payload["data"]["metrics"] == {"rmse": 3.5}


@pytest.mark.both_stores
def test_runs_table_compare_and_short_names(shell, project):
    for alpha in (1, 2):
        shell.run(
            f"%%track -e temps -n r{alpha} -p alpha={alpha}\n"
            "import mlflow\nmlflow.log_metric('rmse', alpha * 1.5)"
        )
    frame = shell.run('%track runs -e temps -f "metrics.rmse > 2"')
    assert frame["name"].tolist() == ["r2"]
    short = tracking.get_run("r1").info.run_id[:6]
    assert tracking.get_run(short).info.run_name == "r1"
    compared = shell.run(f"%track compare {short} r2")
    row = compared.set_index("field").loc["metrics.rmse"]
    assert list(row.iloc[:2]) == [1.5, 3.0] and row["differs"] == "changed"
    chart = tracking.runs("temps")
    assert len(chart) == 2


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%track -p alpha=[1,2]\npass", "not a plain value"),
        ("%%track -p 2x=1\npass", "should look like name=value"),
        ("%track runs -f 'metrics.rmse <<< 1'", "bad run filter"),
        ("%track runs -e nosuch", "no experiment 'nosuch'"),
        ("%track compare nosuchrun other", "no run 'nosuchrun'"),
        ("%track promote nosuch@champion best", "no registered model 'nosuch'"),
        ("%track frobnicate", "has no subcommand"),
    ],
)
def test_mistakes_get_one_line(shell, project, cell, message):
    with pytest.raises(UsageError) as exc:
        shell.run(cell)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_parameters_must_be_plain_values(project):
    with pytest.raises(MlopsError) as e, tracking.run(params={"layers": [1, 2]}):
        pass
    assert "plain values" in str(e.value)
    assert mlflow.active_run() is None


def test_close_matches_for_run_names(shell, project):
    shell.run("%%track -n gradient-boost\npass")
    with pytest.raises(UsageError) as exc:
        shell.run("%track compare gradient-bost gradient-boost")
    assert "did you mean: gradient-boost" in str(exc.value)


def test_the_embedded_store_keeps_everything_inside_the_project(shell, project):
    client = tracking.client()
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location == (project / ".mlops" / "mlartifacts" / "0").as_uri()
    with mlflow.start_run() as plain:  # a plain MLflow run in the Default experiment
        mlflow.log_text("hello", "note.txt")
    assert plain.info.artifact_uri.startswith((project / ".mlops").as_uri())
    assert not (project / "mlruns").exists()


@pytest.mark.both_stores
def test_autolog_records_the_estimator_and_its_model(shell, project):
    shell.run(
        "%%track -n auto --autolog\n"
        "import numpy as np\n"
        "from sklearn.linear_model import Ridge\n"
        "X = np.arange(20.0).reshape(10, 2)\n"
        "model = Ridge(alpha=0.3).fit(X, X[:, 0])"
    )
    run = tracking.get_run("auto")
    assert run.data.params["alpha"] == "0.3"  # logged by mlflow.autolog, not by us
    assert "training_score" in run.data.metrics
    from mlops_jupyter.tracking import registry

    assert len(registry.logged_models(tracking.client(), run)) == 1
    shell.run("%%track -n manual\nmodel2 = Ridge(alpha=0.5).fit(X, X[:, 0])")
    assert "alpha" not in tracking.get_run("manual").data.params  # autolog was turned off again


def test_a_metric_chart_across_runs(shell, project):
    for value in (1.0, 2.0):
        shell.run(f"%%track -e charts\nimport mlflow\nmlflow.log_metric('rmse', {value})")
    from mlops_jupyter.views import charts

    frame = tracking.runs("charts")
    spec = charts.metric_across_runs(frame, "rmse").to_dict()
    assert spec["encoding"]["y"]["title"] == "rmse"
    assert sorted(row["value"] for row in next(iter(spec["datasets"].values()))) == [1.0, 2.0]
    with pytest.raises(UsageError, match="no run shown logged 'mae'; metrics: rmse"):
        shell.run("%track runs -e charts -m mae")


def test_the_ui_refuses_a_port_in_use(project):
    import socket

    from mlops_jupyter.tracking import ui

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MlopsError, match=f"port {port} on 127.0.0.1 is in use"):
            ui.start(port=port)


def test_two_projects_in_one_process_keep_their_own_stores(shell, project, tmp_path):
    import os

    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=other, check=True)
    with tracking.run(name="here"):
        pass
    with tracking.run(name="there", project=other):
        pass
    assert "MLFLOW_TRACKING_URI" not in os.environ  # MLflow's copy is not left to outrank settings
    assert tracking.runs()["name"].tolist() == ["here"]
    assert tracking.runs(project=other)["name"].tolist() == ["there"]


SECRET_CELLS = [
    ('db_password = "hunter2-very-secret"', 'db_password = "<redacted>"'),
    ("client = connect(api_key='AbC123xyz789', user='me')", "client = connect(api_key='<redacted>', user='me')"),
    ('os.environ["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG"', 'os.environ["AWS_SECRET_ACCESS_KEY"] = "<redacted>"'),
    ("%env HF_TOKEN=hf_abcdefghijklmnop", "%env HF_TOKEN=<redacted>"),
    ('uri = "postgresql://ml:s3cr3t@db:5432/mlflow"', 'uri = "postgresql://ml:<redacted>@db:5432/mlflow"'),
    ("key_id = 'AKIAIOSFODNN7EXAMPLE'", "key_id = '<redacted>'"),
    ('headers = {"Authorization": "Bearer abcdef0123456789"}', 'headers = {"Authorization": "Bearer <redacted>"}'),
    ('author = "Jane"; sort_key = "date"', 'author = "Jane"; sort_key = "date"'),  # not secrets
]  # fmt: skip


@pytest.mark.parametrize(("typed", "kept"), SECRET_CELLS)
def test_secrets_typed_in_cells_are_redacted_from_the_run(typed, kept):
    from mlops_jupyter.tracking.redact import redact

    assert redact(typed) == kept


def test_history_is_redacted_and_can_be_turned_off(shell, project, monkeypatch):
    shell.run('db_password = "hunter2-very-secret"')
    shell.run("%%track -n kept\nx = 1")
    client = tracking.client()
    run = tracking.get_run("kept")
    history = Path(client.download_artifacts(run.info.run_id, "code/history.json")).read_text()
    assert "hunter2" not in history and "<redacted>" in history

    monkeypatch.setenv("MLOPS_JUPYTER_TRACK_HISTORY", "false")
    shell.run("%%track -n alone\nx = 2")
    artifacts = {
        a.path for a in client.list_artifacts(tracking.get_run("alone").info.run_id, "code")
    }
    assert artifacts == {"code/cell.py"}


def test_a_run_knows_whether_its_cells_ran_in_the_notebook_s_order(shell, project):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Order"), *(nbformat.v4.new_code_cell(s) for s in (
        "x = 1", "x = x + 1", "%%track -e order\nimport mlflow\nmlflow.log_metric('x', x)"))]  # fmt: skip
    path = project / "order.ipynb"
    nbformat.write(nb, path)
    shell.user_ns["__session__"] = str(path)  # as Jupyter Server tells the kernel

    def run(index: int, name: str | None = None) -> None:  # as JupyterLab runs a cell
        source = nb.cells[index].source
        if name:
            source = source.replace("-e order", f"-e order -n {name}")
        assert shell.run_cell(source, store_history=True, cell_id=nb.cells[index].id).success

    run(1), run(2), run(3, "top-down")  # In[1], In[2], In[3]
    run(2), run(3, "again")  # In[4]: the second code cell once more, then the run
    run(2), run(1), run(3, "upward")  # In[6], In[7]: the first code cell after the second
    nb.cells[1].source = "x = 10"  # edited (and saved) after it ran
    nbformat.write(nb, path)
    run(3, "edited")

    runs = tracking.runs("order").set_index("name")
    assert runs.loc["top-down", "cells"] == "linear" and runs.loc["top-down", "metrics.x"] == 2
    why = {n: tracking.get_run(n).data.tags.get("mlops.cells.why") for n in runs.index}
    assert why["top-down"] is None
    # cells are counted as the notebook shows them, the markdown heading first
    assert why["again"] == "cell 3 ran 2 times ([2], [4])"
    assert (
        why["upward"]
        == "cell 2 ran after cell 3 ([7] after [6]); cell 2 ran 2 times ([1], [7]); cell 3 ran 3 times ([2], [4], [6])"
    )
    assert "cell 2 was edited after it ran as [1]" in why["edited"]
    assert set(runs["cells"]) == {"linear", "non-linear"}
    # a reproduction whose metrics differ names the run's cell order as the likely cause
    from mlops_jupyter.tracking.reproduce import Reproduction

    metrics = pd.DataFrame({"metric": ["x"], "original": [3.0], "reproduced": [2.0],
                            "difference": [-1.0], "within": [False]})  # fmt: skip
    again, top_down = tracking.get_run("again"), tracking.get_run("top-down")
    assert Reproduction(again, top_down, metrics, 1e-9).verdict().endswith(
        "the original run was non-linear (cell 3 ran 2 times ([2], [4])), so it may not follow "
        "from the code")  # fmt: skip
    assert "non-linear" not in Reproduction(top_down, again, metrics, 1e-9).verdict()
