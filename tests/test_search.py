"""Searches with Optuna: each trial a notebook run under one parent, the study kept."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import make_notebook

from mlops_jupyter import tracking
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.tracking import search


@pytest.fixture
def quadratic(project):
    """A notebook whose loss is smallest at x = 2, logged in three steps as it "trains" (`kind`
    makes no difference, but "boom" fails; `pause` makes each step slow)."""
    return make_notebook(
        project / "fit.ipynb",
        'x = 0.0\nkind = "a"\npause = 0.0',
        "assert kind != 'boom', 'asked to fail'\n"
        "import time, mlflow\n"
        "for step in range(60 if pause else 3):\n"
        "    mlflow.log_metric('loss', (x - 2) ** 2 + 1 / (step + 1), step=step)\n"
        "    time.sleep(pause)",
    )


def loss(x):
    return (x - 2) ** 2 + 1 / 3  # the last step's


def test_a_tpe_search_runs_trials_under_one_parent_and_keeps_its_study(quadratic, project):
    out = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter.cli", "run", str(quadratic), "--search", "tpe",
         "--trials", "2", "-j", "2", "--space", "x=0:4", "--space", "kind=a,b", "--metric",
         "loss", "--seed", "3", "-e", "tune"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    runs = tracking.runs("tune")
    parent = runs[runs["name"] == "fit-search"].iloc[0]
    trials = runs[runs["name"].str.startswith("fit-trial-")]
    assert len(trials) == 2 and set(trials["status"]) == {"FINISHED"}
    losses = [loss(x) for x in trials["params.x"]]
    assert min(losses) == pytest.approx(parent["metrics.best_loss"])
    best = tracking.get_run(parent["run"]).data.params
    assert float(best["best.x"]) == pytest.approx(
        trials["params.x"].iloc[losses.index(min(losses))]
    )
    assert out.stdout.startswith("best of 2 trials of tune/fit/loss: x=")

    # the study is kept and a second search continues it; a run that fails fails its trial
    # (one line; the failed run is kept, as any)
    failed = search.search(quadratic, search.parse_space(["x=0:4"]), 1, "loss",
                           parameters={"kind": "boom"}, experiment="tune", progress=False)  # fmt: skip
    assert str(failed) == "no trial of tune/fit/loss finished with the metric"
    assert failed.runs[0].status == "FAILED" and "asked to fail" in failed.runs[0].error
    study = search.study_of(quadratic, "loss", "tune")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2 + ["FAIL"]
    assert study.best_value == pytest.approx(min(losses))

    # a trial whose loss, step by step, is worse than the finished trials' median is stopped
    # early: its run KILLED and tagged, its trial PRUNED; the best stays the study's
    far = search.search(quadratic, search.parse_space(["x=100:200"]), 1, "loss",
                        parameters={"pause": 0.5}, experiment="tune", progress=False)  # fmt: skip
    assert far.pruned == 1 and far.runs[0].status == "KILLED"
    assert str(far).startswith("best of 1 trials of tune/fit/loss, 1 pruned: x=")
    assert far.best_value == pytest.approx(min(losses))
    stopped = tracking.get_run(far.runs[0].run_id)
    assert stopped.info.status == "KILLED"
    assert stopped.data.tags["mlops.trial"].startswith("pruned at step ")
    steps = tracking.client().get_metric_history(far.runs[0].run_id, "loss")
    assert 1 <= len(steps) < 60  # stopped well before its 60 steps (30 s)
    assert search.study_of(quadratic, "loss", "tune").trials[-1].state.name == "PRUNED"


@pytest.mark.parametrize(
    ("space", "message"),
    [(["x"], "use name=LOW:HIGH"), (["x=1:0"], "needs LOW < HIGH"),
     (["x=0:1:log"], "0 < LOW < HIGH on a log scale"), (["x=a:b"], "numbers at both ends"),
     (["x=1:2:cube"], "a range is LOW:HIGH or LOW:HIGH:log"), ([], "at least one dimension")],
)  # fmt: skip
def test_search_space_mistakes_get_one_line(space, message):
    with pytest.raises(MlopsError, match=message):
        search.parse_space(space)
    dims = search.parse_space(["a=1:9", "b=0.001:1:log", "c=x,y"])
    assert [(d.low, d.high, d.log, d.choices) for d in dims] == [
        (1, 9, False, None), (0.001, 1, True, None), (None, None, False, ("x", "y"))]  # fmt: skip


def test_a_search_without_a_space_or_metric_is_one_line(quadratic, capsys):
    from mlops_jupyter import cli

    assert cli.main(["run", str(quadratic), "--search", "tpe", "--metric", "loss"]) == 1
    said = capsys.readouterr().err
    assert (
        said == "mlops-jupyter run: a search needs at least one dimension: --space NAME=LOW:HIGH\n"
    )
    assert cli.main(["run", str(quadratic), "--search", "tpe", "--space", "x=0:1"]) == 1
    assert "a search needs the metric it optimizes: --metric NAME" in capsys.readouterr().err
    assert cli.main(["run", str(quadratic), "--search", "tpe", "--space", "y=0:1", "--metric",
                     "loss", "--trials", "0"]) == 1  # fmt: skip
    assert "a search needs at least one trial, not 0" in capsys.readouterr().err
    with pytest.raises(MlopsError, match="pruning 'hyperband': use median or none"):
        search.search(quadratic, search.parse_space(["x=0:1"]), 1, "loss", prune="hyperband")


def test_a_database_that_cannot_be_opened_is_one_line(quadratic, project, monkeypatch):
    monkeypatch.setenv("MLOPS_JUPYTER_OPTUNA_STORAGE", f"sqlite:///{project}/no/such/dir/x.db")
    with pytest.raises(MlopsError, match=r"the searches' database \(sqlite:////.*setting optuna_"):
        search.search(quadratic, search.parse_space(["x=0:4"]), 1, "loss", progress=False)


def test_notebooks_of_one_file_name_keep_studies_apart_and_any_name_is_searched(quadratic, project):
    """Two notebooks called fit.ipynb in two folders are two studies; a notebook whose name
    holds an apostrophe is searched with pruning like any (its trials' runs were looked up
    with the name inside MLflow's filter, which the quote broke)."""
    import optuna

    for folder in ("north", "south"):
        (project / folder).mkdir()
        (project / folder / "fit.ipynb").write_bytes(quadratic.read_bytes())
        done = search.search(project / folder / "fit.ipynb", search.parse_space(["x=0:4"]), 1,
                             "loss", experiment="tune", progress=False)  # fmt: skip
        assert done.study == f"tune/{folder}/fit/loss" and len(done.runs) == 1
    quoted = project / "it's fit.ipynb"
    quoted.write_bytes(quadratic.read_bytes())
    done = search.search(quoted, search.parse_space(["x=0:4"]), 2, "loss", experiment="tune",
                         progress=False, prune="median")  # fmt: skip
    assert [r.status for r in done.runs] == ["FINISHED", "FINISHED"], done
    from mlops_jupyter.workspace import Workspace

    names = optuna.get_all_study_names(search.storage_url(Workspace.find(project)))
    assert {"tune/north/fit/loss", "tune/south/fit/loss", "tune/it's fit/loss"} <= set(names)
