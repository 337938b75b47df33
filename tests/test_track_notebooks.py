"""Notebook runs with papermill, sweeps, and several writers on one store: real kernels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import make_notebook

from mlops_jupyter import tracking
from mlops_jupyter.errors import MlopsError

CLI = [sys.executable, "-m", "mlops_jupyter.cli"]


def cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(out.stderr)
    return out


@pytest.mark.both_stores
def test_a_notebook_run_is_one_run_with_everything_the_notebook_logged(train_notebook, temps_v1):
    result = tracking.run_notebook(train_notebook, {"alpha": 0.5}, experiment="nb")
    assert result.status == "FINISHED"
    run = tracking.get_run(result.run_id)
    assert run.data.params == {"alpha": "0.5"}
    assert run.data.metrics["rmse"] > 0  # logged by the notebook's own mlflow calls
    points = tracking.client().get_metric_history(run.info.run_id, "loss")
    assert len(points) == 5
    (dataset_input,) = run.inputs.dataset_inputs
    assert (dataset_input.dataset.name, dataset_input.dataset.digest) == ("temps@v1", temps_v1.md5)
    artifacts = {a.path for a in tracking.client().list_artifacts(run.info.run_id, "executed")}
    assert artifacts == {"executed/train.ipynb"}
    assert run.data.tags["mlops.notebook"] == "notebooks/train.ipynb"


def test_a_failing_notebook_names_the_cell_in_one_line(train_notebook, project):
    out = cli("run", str(train_notebook), "-p", "fail", "true", "-q", cwd=project, check=False)
    assert out.returncode == 1
    line = out.stderr.strip().splitlines()[-1]
    assert "train.ipynb failed in cell [" in line and "AssertionError: asked to fail" in line
    run = tracking.runs().iloc[0]
    assert run["status"] == "FAILED"
    assert "asked to fail" in run["error"]


def test_notebook_mistakes_are_caught_before_a_kernel_starts(project, train_notebook):
    plain = make_notebook(project / "plain.ipynb", None, "x = 1")
    with pytest.raises(MlopsError, match="has no cell tagged 'parameters'"):
        tracking.run_notebook(plain, {"alpha": 1})
    with pytest.raises(MlopsError, match=r"does not declare alhpa .*declares: alpha, window"):
        tracking.run_notebook(train_notebook, {"alhpa": 1})
    with pytest.raises(MlopsError, match="no notebook missing.ipynb"):
        tracking.run_notebook("missing.ipynb")
    with pytest.raises(MlopsError, match="plain values"):
        tracking.run_notebook(train_notebook, {"alpha": [1, 2]})
    out = cli("run", "plain.ipynb", "-p", "alpha", "1", cwd=project, check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr


def test_a_sweep_runs_a_grid_in_parallel_under_one_parent(train_notebook, project):
    out = cli("run", str(train_notebook), "--sweep", "alpha=0.1,10", "-j", "2", cwd=project)
    assert out.stdout.count("finished") == 2
    runs = tracking.runs()
    parent = runs[runs["name"] == "train-sweep"].iloc[0]
    children = runs[runs["name"] != "train-sweep"]
    assert sorted(children["params.alpha"]) == [0.1, 10]
    client = tracking.client()
    for run_id in children["run"]:
        tags = tracking.get_run(run_id).data.tags
        assert tags["mlflow.parentRunId"].startswith(parent["run"])
    assert client.get_run(tracking.get_run(parent["run"]).info.run_id).info.status == "FINISHED"


@pytest.mark.both_stores
def test_an_interrupted_sweep_keeps_finished_runs_and_marks_the_rest(project):
    nb = make_notebook(
        project / "slow.ipynb",
        "pause = 0.0",
        "import time, mlflow\ntime.sleep(pause)\nmlflow.log_metric('slept', pause)",
    )
    proc = subprocess.Popen(
        [*CLI, "run", str(nb), "--sweep", "pause=0,30,31,32", "-j", "1", "-q"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # ^C as from a terminal, even when the suite itself runs in the background (where
        # SIGINT is ignored, and so in every process it starts)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the first run is done, the second running
        time.sleep(1)
        assert proc.poll() is None, proc.communicate()
        runs = tracking.runs()
        if len(runs) >= 3 and (runs["status"] == "FINISHED").sum() >= 1:
            break
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    runs = tracking.runs()
    by_pause = {
        r["params.pause"]: r["status"] for _, r in runs.iterrows() if r["name"] != "slow-sweep"
    }
    assert by_pause[0] == "FINISHED"
    assert sorted(by_pause) == [0, 30, 31, 32]
    assert {by_pause[p] for p in (30, 31, 32)} == {"KILLED"}
    assert runs[runs["name"] == "slow-sweep"].iloc[0]["status"] == "KILLED"
    assert "RUNNING" not in set(runs["status"])


WRITER = """
import sys
from mlops_jupyter import tracking
import mlflow
with tracking.run(experiment="shared", name=f"writer-{sys.argv[1]}") as run:
    for step in range(200):
        run.log_metric("loss", 1 / (step + 1), step=step)
        if step % 20 == 0:
            mlflow.log_metric("checkpoint", step, step=step)
"""


def test_several_processes_write_to_the_embedded_store_at_once(project):
    tracking.client()  # the store exists before the writers race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i)], cwd=project, stderr=subprocess.PIPE
        )
        for i in range(4)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    runs = tracking.runs("shared")
    assert sorted(runs["name"]) == [f"writer-{i}" for i in range(4)]
    client = tracking.client()
    for run_id in runs["run"]:
        full = tracking.get_run(run_id).info.run_id
        assert len(client.get_metric_history(full, "loss")) == 200
        assert len(client.get_metric_history(full, "checkpoint")) == 10
    assert set(runs["status"]) == {"FINISHED"}


def test_runs_read_back_through_a_real_mlflow_server(shell, project):
    import urllib.request

    from mlops_jupyter.tracking import ui

    shell.run("%%track -e served -n over-http -p alpha=3\nimport mlflow\nmlflow.log_metric('m', 1)")
    url = ui.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert ui.start() == url  # running already: the same server
        body = json.dumps({"experiment_ids": ["1"], "max_results": 10}).encode()
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/runs/search",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.load(response)
        (run,) = payload["runs"]
        assert run["info"]["run_name"] == "over-http"
        assert run["data"]["params"] == [{"key": "alpha", "value": "3"}]
    finally:
        assert ui.stop()


def test_the_kernel_leaves_the_run_for_the_runner_to_end(project):
    """A kernel that logged into the runner's run exits before the runner ends the run: the run
    stays RUNNING until then (MLflow's own exit handler would have ended it FINISHED)."""
    from jupyter_client.manager import start_new_kernel

    from mlops_jupyter.tracking import notebooks, store
    from mlops_jupyter.workspace import Workspace

    client = tracking.client()
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    env = {**os.environ, "MLFLOW_RUN_ID": run.info.run_id,
           "MLFLOW_TRACKING_URI": store.tracking_uri(Workspace.find(project))}  # fmt: skip
    manager, kernel = start_new_kernel(
        kernel_name="python3", cwd=str(project), env=env,
        extra_arguments=[f"--IPKernelApp.exec_lines={notebooks.KERNEL_START!r}"],
    )  # fmt: skip
    try:
        reply = kernel.execute_interactive(
            "import mlflow\nmlflow.log_metric('loss', 1.0)", timeout=120
        )
        assert reply["content"]["status"] == "ok"
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=False)  # as papermill ends it: the kernel's exit handlers run
    after = client.get_run(run.info.run_id)
    assert after.data.metrics == {"loss": 1.0} and after.info.status == "RUNNING"
