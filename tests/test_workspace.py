"""Settings: embedded defaults, a project file, environment variables on top."""

from __future__ import annotations

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.workspace import Settings, Workspace


def test_defaults_need_no_server(repo):
    ws = Workspace.find()
    assert ws.root == repo
    assert ws.settings.mlflow_tracking_uri == "sqlite:///.mlops/mlflow.db"
    assert ws.state_dir == repo / ".mlops"


def test_a_subfolder_belongs_to_the_enclosing_repository(repo):
    (repo / "deep" / "er").mkdir(parents=True)
    assert Workspace.find(repo / "deep" / "er").root == repo


def test_project_file_then_environment(repo, monkeypatch):
    (repo / "pyproject.toml").write_text('[tool.mlops-jupyter]\ndvc-remote = "team"\n')
    assert Settings.load(repo).dvc_remote == "team"
    (repo / "mlops.toml").write_text('dvc_remote = "mine"\nlogs_dir = "logs"\n')
    assert Settings.load(repo).dvc_remote == "mine"
    monkeypatch.setenv("MLOPS_JUPYTER_DVC_REMOTE", "from-env")
    settings = Settings.load(repo)
    assert (settings.dvc_remote, settings.logs_dir) == ("from-env", "logs")


def test_unknown_setting_names_the_known_ones(repo):
    (repo / "mlops.toml").write_text('dvc_remot = "x"\n')
    with pytest.raises(MlopsError, match="unknown setting 'dvc_remot'.*dvc_remote"):
        Settings.load(repo)


def test_the_remote_default_comes_from_the_settings(repo, tmp_path, monkeypatch):
    from mlops_jupyter import datasets

    monkeypatch.setenv("MLOPS_JUPYTER_DVC_REMOTE_URL", str(tmp_path / "shared-storage"))
    datasets.init()
    assert datasets.remotes()["url"].tolist() == [str(tmp_path / "shared-storage")]


def test_a_profile_applies_over_the_file_when_selected(repo, monkeypatch):
    (repo / "mlops.toml").write_text(
        'dvc_remote = "mine"\n'
        "[profiles.team]\n"
        'mlflow_tracking_uri = "http://mlflow.internal:5000"\n'
        'dvc_remote = "team"\n'
    )
    plain = Settings.load(repo)
    assert (plain.profile, plain.dvc_remote) == ("", "mine")
    assert plain.mlflow_tracking_uri == "sqlite:///.mlops/mlflow.db"
    monkeypatch.setenv("MLOPS_JUPYTER_PROFILE", "team")
    team = Settings.load(repo)
    assert (team.profile, team.dvc_remote) == ("team", "team")
    assert team.mlflow_tracking_uri == "http://mlflow.internal:5000"
    monkeypatch.setenv("MLOPS_JUPYTER_DVC_REMOTE", "from-env")  # the environment still wins
    assert Settings.load(repo).dvc_remote == "from-env"


def test_an_unknown_profile_names_the_known_ones(repo, monkeypatch):
    (repo / "mlops.toml").write_text('profile = "prod"\n[profiles.team]\ndvc_remote = "t"\n')
    with pytest.raises(MlopsError, match="no profile 'prod' in .*; known profiles: team"):
        Settings.load(repo)


def test_the_doctor_passes_the_embedded_default(project):
    from mlops_jupyter import doctor

    checks = doctor.check()
    assert [(c.part, c.status) for c in checks] == [
        ("settings", "ok"), ("project", "ok"), ("tracking", "ok"),
        ("artifacts", "ok"), ("data", "ok"),
    ]  # fmt: skip
    assert "embedded MLflow store .mlops/mlflow.db" in str(checks[2])
