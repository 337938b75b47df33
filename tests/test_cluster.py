"""Sweeps on a Dask cluster: a real scheduler and two workers, each a process of its own on
127.0.0.1, running the notebooks from the project's checkout as a teammate's machines would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import make_notebook, wait_for

from mlops_jupyter import tracking
from mlops_jupyter.errors import MlopsError, NotFoundError
from mlops_jupyter.netutil import kill_child, pick_port
from mlops_jupyter.tracking import search
from mlops_jupyter.tracking.cluster import RemoteRun

DASK = str(Path(sys.executable).parent / "dask")  # the environment's own CLI


@pytest.fixture
def cluster(project):
    from distributed import Client

    port = pick_port(None, int(os.environ.get("MLOPS_TEST_PORT", 19090)) + 60)
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # fmt: skip
    procs += [subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--host", "127.0.0.1", "--name", name],
                               cwd=project, **quiet) for name in ("w1", "w2")]  # fmt: skip
    try:
        client = Client(address, timeout="30s", set_as_default=False)
        client.wait_for_workers(2, timeout=60)
        pids = client.run(os.getpid)  # worker address -> its process
        yield SimpleNamespace(address=address, client=client, pids=pids, scheduler=procs[0])
        client.close()
    finally:
        for proc in procs:
            kill_child(proc)


@pytest.fixture
def local_cluster(project):
    """The quick case: a LocalCluster's scheduler and two workers in this process (each run is a
    process of its own all the same)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as local:  # fmt: skip
        yield local


@pytest.fixture
def fit(project):
    return make_notebook(
        project / "fit.ipynb",
        "x = 0\npause = 0.0",
        "import time, mlflow\ntime.sleep(pause)\nmlflow.log_metric('loss', (x - 2) ** 2)",
    )


def test_a_sweep_runs_on_the_workers_and_a_killed_worker_s_run_is_retried(fit, cluster):
    results = tracking.sweep(fit, {"x": [1, 2]}, experiment="dask", progress=False,
                             cluster=cluster.address)  # fmt: skip
    assert [r.status for r in results] == ["FINISHED", "FINISHED"]
    for result in results:  # each run under the parent, as local, and says where it ran
        run = tracking.get_run(result.run_id)
        assert run.data.tags["mlops.worker"] in cluster.pids
        assert run.data.metrics["loss"] == (int(run.data.params["x"]) - 2) ** 2
        assert tracking.get_run(run.data.tags["mlflow.parentRunId"]).info.run_name == "fit-sweep"

    # a worker without the project's checkout at the client's path makes a run that says so
    lost = RemoteRun(cluster.client, [sys.executable, "-m", "mlops_jupyter.cli", "--help"],
                     fit.parent / "elsewhere", "lost")  # fmt: skip
    _, err = lost.communicate()
    assert lost.poll() == 1 and "has no checkout of the project at " in err

    # a worker killed mid-run: its run ends KILLED, and the run starts again on the other
    done: list = []
    sweeping = threading.Thread(target=lambda: done.extend(tracking.sweep(
        fit, {"x": [3]}, {"pause": 6.0}, experiment="dask", progress=False,
        cluster=cluster.address)))  # fmt: skip
    sweeping.start()
    busy = wait_for(lambda: [w for w, keys in cluster.client.processing().items() if keys]
                    and _running(fit), timeout=60, every=0.5)  # fmt: skip
    assert busy
    (worker,) = [w for w, keys in cluster.client.processing().items() if keys]
    os.kill(cluster.pids[worker], signal.SIGKILL)
    sweeping.join(timeout=120)
    assert [r.status for r in done] == ["FINISHED"]
    assert tracking.get_run(done[0].run_id).data.tags["mlops.worker"] != worker

    def attempts() -> list[str]:  # the killed attempt ends itself KILLED: its kernel stops first
        runs = tracking.runs("dask")
        return sorted(runs[runs["name"] == done[0].name]["status"])

    try:
        wait_for(lambda: attempts() == ["FINISHED", "KILLED"], timeout=60, every=0.5)
    except AssertionError:
        raise AssertionError(
            f"attempts: {attempts()}; {tracking.runs('dask')[['name', 'status', 'run']]}"
        ) from None


def _running(fit) -> bool:
    runs = tracking.runs("dask")
    return bool(((runs["status"] == "RUNNING") & (runs["name"] != "fit-sweep")).any())


def test_a_scheduler_that_does_not_answer_is_one_line_and_no_run(fit, project):
    started = time.monotonic()
    with pytest.raises(MlopsError, match=r"^no Dask scheduler answers at tcp://127.0.0.1:9: .*"
                       r"start one with `dask scheduler`"):  # fmt: skip
        tracking.sweep(fit, {"x": [1]}, experiment="nowhere", cluster="tcp://127.0.0.1:9")
    assert time.monotonic() - started < 5  # refused at once, not after Dask's retries
    with pytest.raises(MlopsError, match="no experiment"):
        tracking.runs("nowhere")


def test_ctrl_c_on_the_client_ends_the_runs_on_the_workers_killed(fit, cluster, project):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops_jupyter.cli", "run", str(fit), "--sweep", "pause=0,30",
         "-j", "1", "-q", "-e", "stopped", "--cluster", cluster.address],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip

    def one_done_one_running() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            runs = tracking.runs("stopped")
        except NotFoundError:  # not made yet
            return False
        children = runs[runs["name"] != "fit-sweep"]
        return sorted(children["status"]) == ["FINISHED", "RUNNING"]

    wait_for(one_done_one_running, timeout=90, every=0.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    runs = tracking.runs("stopped")
    by_pause = {r["params.pause"]: r["status"] for _, r in runs.iterrows()
                if r["name"] != "fit-sweep"}  # fmt: skip
    assert by_pause == {0: "FINISHED", 30: "KILLED"}, (runs[["name", "status"]], err)
    assert runs[runs["name"] == "fit-sweep"].iloc[0]["status"] == "KILLED"
    assert not any(cluster.client.processing().values())  # nothing left running on the cluster


def test_a_search_runs_its_trials_on_the_cluster(fit, local_cluster):
    found = search.search(fit, search.parse_space(["x=0:4"]), 2, "loss", experiment="tune",
                          jobs=2, progress=False, cluster=local_cluster.scheduler_address)  # fmt: skip
    assert [r.status for r in found.runs] == ["FINISHED", "FINISHED"]
    workers = set(local_cluster.scheduler_info["workers"])
    for trial in found.runs:  # each trial ran on a worker, under the search's parent run
        run = tracking.get_run(trial.run_id)
        assert run.data.tags["mlops.worker"] in workers
        assert run.data.metrics["loss"] == pytest.approx((float(run.data.params["x"]) - 2) ** 2)
    assert str(found).startswith("best of 2 trials of tune/fit/loss: x=")


def test_the_scheduler_gone_mid_sweep_is_one_line_and_keeps_the_finished_runs(
    fit, cluster, project
):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops_jupyter.cli", "run", str(fit), "--sweep", "pause=0,60",
         "-j", "2", "-q", "-e", "orphaned", "--cluster", cluster.address],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def one_finished() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            runs = tracking.runs("orphaned")
        except NotFoundError:  # not made yet
            return False
        return "FINISHED" in set(runs[runs["name"] != "fit-sweep"]["status"])

    wait_for(one_finished, timeout=90, every=0.5)
    kill_child(cluster.scheduler)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]  # after the progress bar
    assert line.startswith(f"mlops-jupyter run: the Dask scheduler at {cluster.address} went "
                           "away; the runs that finished are kept"), err  # fmt: skip

    def by_pause() -> dict:
        runs = tracking.runs("orphaned")
        return {r["params.pause"]: r["status"] for _, r in runs.iterrows()}

    assert by_pause()[0] == "FINISHED"  # kept
    # the workers stop without their scheduler, and the run still on one ends KILLED
    wait_for(lambda: by_pause()[60] == "KILLED", timeout=60, every=0.5)
    runs = tracking.runs("orphaned")
    assert runs[runs["name"] == "fit-sweep"].iloc[0]["status"] == "FAILED"
    assert len(runs) == 3  # the run that had started is not also marked as never started


def test_secrets_never_travel_in_a_runs_task_arguments():
    """What a run on a worker is sent is readable by any client of the scheduler: settings
    go, secrets stay home (the workers' own environment supplies them)."""
    from mlops_jupyter.tracking.cluster import held_back_notice, task_env

    client_env = {
        "MLFLOW_TRACKING_URI": "https://alice:hunter2@mlflow.internal:5000/",
        "MLFLOW_TRACKING_PASSWORD": "hunter2",
        "MLFLOW_TRACKING_TOKEN": "tok-123",
        "MLOPS_JUPYTER_PROFILE": "team",
        "MLOPS_JUPYTER_S3_SECRET": "s3-secret",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",  # never sent at all: not a setting of ours
        "HOME": "/root",
    }
    sent, held = task_env(client_env)
    assert sent == {
        "MLFLOW_TRACKING_URI": "https://mlflow.internal:5000/",
        "MLOPS_JUPYTER_PROFILE": "team",
    }
    for secret in ("hunter2", "tok-123", "s3-secret", "aws-secret", "alice"):
        assert secret not in repr(sent)
    notice = held_back_notice(client_env)
    assert notice.startswith("not sent to the Dask workers") and "hunter2" not in notice
    assert "MLFLOW_TRACKING_PASSWORD" in notice and "MLFLOW_TRACKING_URI's user" in notice
    assert held_back_notice({"MLOPS_JUPYTER_PROFILE": "team"}) is None
