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
