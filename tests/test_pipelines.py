"""Pipelines of notebooks as DVC stages: dvc repro, tracked stage runs, output versions."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from helpers import make_notebook

from mlops_jupyter import datasets, pipelines, tracking
from mlops_jupyter.errors import MlopsError

PREPARE = """\
from mlops_jupyter import datasets
df = datasets.load("temps")
df["smooth"] = df["temp"].rolling(window, min_periods=1).mean()
df.to_parquet("data/features.parquet")
"""
TRAIN = """\
import mlflow, pandas as pd
df = pd.read_parquet("data/features.parquet")
mlflow.log_metric("rmse", float(((df["smooth"] - df["temp"]) ** 2).mean() ** 0.5) * alpha)
assert alpha > 0, "alpha must be positive"
"""

CHECK = 'assert alpha > 0, "alpha must be positive"\n'


@pytest.fixture
def pipeline(temps_v1, project):
    make_notebook(project / "notebooks" / "prepare.ipynb", "window = 3", PREPARE)
    make_notebook(project / "notebooks" / "train.ipynb", "alpha = 1.0", TRAIN)
    pipelines.add_stage(
        "prepare",
        "notebooks/prepare.ipynb",
        {"window": 24},
        deps=["data/temps_1h.csv"],
        outs={"data/features.parquet": "features"},
    )
    pipelines.add_stage(
        "train", "notebooks/train.ipynb", {"alpha": 1.0}, deps=["data/features.parquet"]
    )
    return project


def dvc(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=project, capture_output=True, text=True
    )


def test_a_pipeline_runs_as_dvc_stages_each_a_tracked_run(pipeline):
    spec = yaml.safe_load((pipeline / "dvc.yaml").read_text())["stages"]
    assert spec["prepare"]["cmd"] == "mlops-jupyter run notebooks/prepare.ipynb --stage prepare"
    assert spec["prepare"]["params"] == ["prepare.window"]
    assert "train" in dvc(pipeline, "dag").stdout  # DVC reads the pipeline as usual

    result = pipelines.run(experiment="pipe")
    assert list(result.ran) == ["prepare", "train"] and result.versions == ["features@v1"]
    for stage, run_id in result.ran.items():
        run = tracking.get_run(run_id)
        assert run.data.tags["mlflow.parentRunId"] == result.run_id
        assert run.data.tags["mlops.stage"] == stage
    assert tracking.get_run(result.ran["prepare"]).data.params == {"window": "24"}

    features = datasets.info("features@v1")
    assert (features.stage, features.run) == ("prepare", result.ran["prepare"])
    assert "from temps@v1" in features.message
    assert datasets.load("features@v1")["smooth"].notna().all()
    assert datasets.show("features@v1").loc["smooth", "count"] == 8759
    assert dvc(pipeline, "status").stdout.strip() == "Data and pipelines are up to date."
    tracked = subprocess.run(
        ["git", "status", "--porcelain", "dvc.lock"], cwd=pipeline, capture_output=True, text=True
    )
    assert tracked.stdout == ""  # dvc.lock is committed with the version tag

    again = pipelines.run(experiment="pipe")
    assert again.ran == {} and again.skipped == ["prepare", "train"]

    pipelines.add_stage(
        "train", "notebooks/train.ipynb", {"alpha": 2.0}, deps=["data/features.parquet"]
    )
    changed = pipelines.run(experiment="pipe")
    assert list(changed.ran) == ["train"] and changed.versions == []

    chart = pipelines.dag().to_dict()
    stages = {row["stage"] for ds in chart["datasets"].values() for row in ds if "stage" in row}
    assert stages == {"prepare", "train"}


def test_pipeline_mistakes_get_one_line(pipeline):
    with pytest.raises(MlopsError, match="does not declare alhpa"):
        pipelines.add_stage("train", "notebooks/train.ipynb", {"alhpa": 1})
    with pytest.raises(MlopsError, match="no stage 'trian'; did you mean: train"):
        pipelines.run(["trian"])
    with pytest.raises(MlopsError, match="is already versioned"):
        pipelines.add_stage("bad", "notebooks/train.ipynb", outs={"data/temps_1h.csv": None})
    odd = "notebooks/My check $(touch pwned); touch pwned2.ipynb"  # one path, not a command
    make_notebook(pipeline / odd, "alpha = 1.0", CHECK)
    pipelines.add_stage("check", odd, {"alpha": -1.0})
    with pytest.raises(MlopsError) as exc:
        pipelines.run(["check"])
    message = str(exc.value)
    assert message.startswith("the pipeline stopped:") and "alpha must be positive" in message
    assert "\n" not in message
    assert not list(pipeline.glob("pwned*"))  # the notebook ran, and nothing else did
