"""``%track reproduce``: the same code, parameters, seed and data versions, in a clean kernel."""

from __future__ import annotations

import shutil
import subprocess

import nbformat
import pytest

from mlops_jupyter import datasets, tracking
from mlops_jupyter.demo import run_notebook as execute
from mlops_jupyter.errors import MlopsError


@pytest.mark.both_stores
def test_a_notebook_run_reproduces_with_the_data_version_it_read(train_notebook, temps, project):
    original = tracking.run_notebook(train_notebook, {"alpha": 0.5}, experiment="nb")
    # the dataset moves on: `temps` now means v2, but the run read v1
    temps.write_text(temps.read_text().replace(",5.", ",9."))
    datasets.add(temps, name="temps", message="revised")

    result = tracking.reproduce(original.run_id[:8])
    assert result.reproduced, str(result)
    assert result.verdict().startswith("reproduced: 2 metrics")
    rmse = result.metrics.set_index("metric").loc["rmse"]
    assert rmse["original"] == rmse["reproduced"]  # to the last digit
    assert result.new.data.tags["mlops.reproduces"] == original.run_id
    assert result.new.inputs.dataset_inputs[0].dataset.name == "temps@v1"


CELLS = [
    "%load_ext mlops_jupyter",
    "%dataset add data/temps_1h.csv --name temps",
    "df = %dataset load temps",
    "import numpy as np\nscale = 3.0\nopen('written.txt', 'w').write('by the session')",
    "%%track -n stable -p alpha=2\n"
    "import mlflow\n"
    "noise = np.random.normal(size=len(df))\n"
    "mlflow.log_metric('score', float((df['temp'] * scale + noise * alpha).mean()))",
    "%%track -n clock\nimport mlflow, time\nmlflow.log_metric('now', time.time())",
]


def test_a_cell_run_replays_its_session_read_only(temps, project, tmp_path, capsys):
    (project / "notes.txt").write_text("committed")
    subprocess.run(["git", "add", "notes.txt"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-qm", "notes"], cwd=project, check=True)
    (project / "notes.txt").write_text("changed, not committed")  # a dirty tree
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    source = tmp_path / "session.ipynb"
    nbformat.write(nb, source)
    execute(source, project, progress=False)
    versions_before = len(datasets.versions("temps"))
    (project / "written.txt").write_text("mine")

    stable = tracking.reproduce("stable")
    assert stable.reproduced, str(stable)
    assert "uncommitted changes" in capsys.readouterr().err
    assert len(datasets.versions("temps")) == versions_before  # the replay added nothing
    assert (project / "written.txt").read_text() == "mine"  # it wrote in a scratch worktree
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=project, capture_output=True)
    assert len(worktrees.stdout.splitlines()) == 1

    clock = tracking.reproduce("clock")
    assert not clock.reproduced
    assert clock.differing == ["now"]
    assert clock.verdict().startswith("not reproduced: now differ")
    # the replayed `stable` cell logged with mlflow, but into a scratch store: no stray runs
    assert sorted(tracking.runs()["name"]) == [
        "clock", "clock-reproduced", "stable", "stable-reproduced"
    ]  # fmt: skip


def test_a_run_whose_data_is_gone_says_so(shell, temps_v1, project):
    shell.run("df = %dataset load temps@v1")
    shell.run("%%track -n lost\nimport mlflow\nmlflow.log_metric('rows', len(df))")
    shutil.rmtree(project / ".dvc" / "cache")
    shutil.rmtree(project / ".mlops" / "dvc-storage", ignore_errors=True)
    with pytest.raises(MlopsError) as exc:
        tracking.reproduce("lost")
    message = str(exc.value)
    assert message.startswith("cannot reproduce run lost")
    assert "temps@v1" in message and "neither the local cache nor the remote" in message
