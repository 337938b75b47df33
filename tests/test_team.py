"""Beyond one machine: a profile pointing at an MLflow server on PostgreSQL, artifacts and DVC
data in S3-compatible storage (moto), checked by `mlops-jupyter doctor`; several writers at
once; outages and mistakes as one line, with nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import TEAM_PROFILE
from IPython.core.error import UsageError

from mlops_jupyter import datasets, tracking
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.serving import endpoints
from mlops_jupyter.serving import model as served_model
from mlops_jupyter.tracking import pending, remote
from mlops_jupyter.workspace import Workspace

TEAM = pytest.mark.parametrize("store", ["team"], indirect=True)  # the server per test


def doctor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_jupyter.cli", "doctor", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@TEAM
def test_the_doctor_checks_the_team_profile_line_by_line(project, store):
    done = doctor(cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines()}
    assert lines["settings"].startswith("ok") and "profile 'team'" in lines["settings"]
    assert lines["project"].startswith("ok")
    assert lines["tracking"].startswith("ok") and store.url in lines["tracking"]
    assert lines["artifacts"].startswith("ok") and "proxied" in lines["artifacts"]
    assert lines["data"].startswith("ok") and "bucket 'dvc'" in lines["data"]
    from mlops_jupyter.tracking import ui

    assert ui.start() == store.url  # `%track ui`: the server is its own UI


@TEAM
def test_runs_models_and_data_land_in_postgres_and_s3(project, store, team, temps):
    """The magics' API unchanged: runs on the server, artifacts and DVC objects in the buckets,
    and both tools' own clients read them as usual."""
    import mlflow
    from sklearn.linear_model import Ridge

    version = datasets.add(temps, name="temps")
    datasets.push()
    with tracking.run(experiment="team", params={"alpha": 0.5}) as run:
        df = datasets.load("temps@v1")
        X = (df[["date"]].astype("int64") // 10**9 // 3600) % 24
        model = Ridge(alpha=0.5).fit(X, df["temp"])
        run.log_metric("rmse", 1.5)
        tracking.log_model(model, input_example=X.head(3))
    tracking.register(run.id, "temps-model", alias="champion")

    # runs are rows in PostgreSQL, read back by MLflow's own client over HTTP
    found = mlflow.MlflowClient(store.url).get_run(run.id)
    assert found.data.metrics["rmse"] == 1.5 and found.info.status == "FINISHED"
    row = team.postgres.sql(f"SELECT status FROM runs WHERE run_uuid = '{run.id}'", team.DB)
    assert row == "FINISHED"
    # the model's files are objects in the artifacts bucket; the data version in the DVC one
    keys = [o["Key"] for o in team.s3.client().list_objects_v2(Bucket="mlflow")["Contents"]]
    assert any(k.endswith("/MLmodel") for k in keys), keys
    dvc_keys = [o["Key"] for o in team.s3.client().list_objects_v2(Bucket="dvc")["Contents"]]
    assert any(k.endswith(version.md5[2:]) for k in dvc_keys)
    # DVC's own CLI sees the remote the profile named, with the data in it
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--cloud", "--remote", "team", "--json"],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(status.stdout or "{}") == {}
    loaded = mlflow.pyfunc.load_model("models:/temps-model@champion")
    assert loaded.predict(X.head(2)).shape == (2,)
    # an endpoint loads the version's files from where the registry says they are
    found = endpoints.resolve_model(Workspace.find(project), "temps-model@champion")
    assert found["location"].startswith(("s3://", "mlflow-artifacts:"))
    served = served_model.load(found["location"], "temps-model", found["version"], found["run_id"])
    assert served.predict([X.head(2)["date"].tolist()], ["date"]) == pytest.approx(
        loaded.predict(X.head(2)).tolist()
    )


WRITER = """
import sys
from mlops_jupyter import tracking
for i in range(int(sys.argv[2])):
    with tracking.run(experiment="shared", name=f"{sys.argv[1]}-{i}", params={"i": i}) as run:
        for step in range(25):
            run.log_metric("loss", 1 / (step + 1), step=step)
"""


@TEAM
def test_several_notebooks_track_into_the_shared_server_at_once(project, store):
    tracking.client()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, f"w{n}", "8"], cwd=project)
        for n in range(4)
    ]
    assert [w.wait(timeout=240) for w in writers] == [0, 0, 0, 0]
    runs = tracking.runs("shared", max_results=1000)
    assert len(runs) == 32 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["name"]) == sorted(f"w{n}-{i}" for n in range(4) for i in range(8))
    client = tracking.client()
    shared = client.get_experiment_by_name("shared").experiment_id
    for run in client.search_runs([shared], max_results=1000):
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(25))


@TEAM
def test_postgres_down_mid_run_keeps_the_run_end_and_writes_it_when_back(project, store, team):
    with pytest.raises(remote.StoreUnavailable) as failed, tracking.run("outage") as run:
        run.log_metric("loss", 1.0, step=0)
        run.flush()
        team.postgres.stop()
        for step in range(1, 4):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    message = str(failed.value)
    assert "\n" not in message and f"at {store.url} failed (HTTP 503)" in message
    assert f"Run {run.short_id} keeps 3 unwritten metric points" in message, message
    assert len(pending.waiting(tracking.store.Workspace.find(), store.url)) == 1
    import mlflow

    assert mlflow.active_run() is None  # nothing left half-open in the notebook

    team.postgres.start()
    client = tracking.client()  # the store answers again: the kept end is written
    assert client.get_run(run.id).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == [0, 1, 2, 3]
    assert pending.waiting(tracking.store.Workspace.find(), store.url) == []


def test_a_server_that_is_not_there_is_one_line(shell, project, monkeypatch):
    profile = TEAM_PROFILE.format(mlflow="http://127.0.0.1:9", prefix="x", s3="")
    (project / "mlops.toml").write_text(profile)
    monkeypatch.setenv("MLOPS_JUPYTER_PROFILE", "team")
    with pytest.raises(UsageError, match=r"^the MLflow tracking server at http://127.0.0.1:9 "
                       r"is not reachable \(connection refused\); start it"):  # fmt: skip
        shell.run("%track runs")
    done = doctor(cwd=project)
    assert done.returncode == 1
    assert "FAIL  tracking   the MLflow tracking server at http://127.0.0.1:9" in done.stdout
    assert "problem" in done.stdout.splitlines()[-1]


def test_a_missing_bucket_is_one_line_and_the_version_stays(project, team, temps, monkeypatch):
    from services import S3_ENV

    (project / "mlops.toml").write_text(
        '[profiles.team]\ndvc_remote = "elsewhere"\ndvc_remote_url = "s3://no-such-bucket/x"\n'
        f's3_endpoint_url = "{team.s3.url}"\n'
    )
    monkeypatch.setenv("MLOPS_JUPYTER_PROFILE", "team")
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    version = datasets.add(temps, name="temps")
    with pytest.raises(MlopsError, match="^bucket 'no-such-bucket' does not exist at http"):
        datasets.push()
    assert datasets.load(version.ref).shape[0] > 0  # the version is intact, only not pushed
    done = doctor(cwd=project)
    assert "FAIL  data       bucket 'no-such-bucket' does not exist" in done.stdout


def test_an_unknown_profile_is_one_line(project, monkeypatch):
    (project / "mlops.toml").write_text(TEAM_PROFILE.format(mlflow="http://x", prefix="x", s3=""))
    done = doctor("--profile", "prod", cwd=project)
    assert done.returncode == 1
    assert "FAIL  settings   no profile 'prod' in" in done.stdout
    assert "known profiles: team" in done.stdout
    monkeypatch.setenv("MLOPS_JUPYTER_PROFILE", "prod")
    with pytest.raises(MlopsError, match="no profile 'prod'.*known profiles: team"):
        tracking.runs()


def test_wrong_credentials_are_one_line(project, team, tmp_path, monkeypatch):
    """An MLflow server with MLflow's basic authentication: wrong password, then the right one."""
    from services import Process

    from mlops_jupyter.netutil import pick_port, wait_http

    ini = tmp_path / "auth.ini"
    ini.write_text(textwrap.dedent(f"""\
        [mlflow]
        default_permission = READ
        database_uri = sqlite:///{tmp_path}/auth.db
        admin_username = admin
        authorization_function = mlflow.server.auth:authenticate_request_basic_auth
        """))  # fmt: skip
    port = pick_port(None, 15600)
    server = Process(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host",
         "127.0.0.1", "--port", str(port), "--backend-store-uri", team.postgres.url(team.SPARE),
         "--workers", "1"],
        tmp_path / "auth-server.log",
        env={
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_AUTH_ADMIN_PASSWORD": "s3cret-Pass1",
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only",
        },
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 120, server.alive)
        monkeypatch.setenv("MLOPS_JUPYTER_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
        with pytest.raises(MlopsError, match=r"refused the credentials \(HTTP 401\); set "):
            tracking.runs()
        assert "FAIL  tracking" in doctor(cwd=project).stdout
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-Pass1")
        assert tracking.runs().empty
    finally:
        server.stop()


def test_storage_that_is_not_there_is_one_line():
    from mlops_jupyter import s3

    with pytest.raises(MlopsError, match=r"^the storage at http://127.0.0.1:9 is not reachable \("):
        s3.check_bucket("s3://dvc/x", "http://127.0.0.1:9", {"access_key_id": "k",
                        "secret_access_key": "s"})  # fmt: skip
