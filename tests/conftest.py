"""Fixtures that build the real thing: a temporary git + DVC project, and an IPython shell."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import (
    GIT_ENV,
    TEAM_PROFILE,
    TRAIN_CELL,
    VEGA_DATA,
    git,
    make_notebook,
    serve_features,
)

pytest_plugins = ["pytest_jupyter.jupyter_server"]
BACKGROUND = pytest.StashKey["object"]()
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... under pytest-xdist
PORT_SETTINGS = (
    "MLOPS_JUPYTER_SERVE_PORT",
    "MLOPS_JUPYTER_DASHBOARD_PORT",
    "MLOPS_JUPYTER_UI_PORT",
)
# One worker per endpoint unless a test asks for more (the default is one per core).
KEPT_SETTINGS = {"MLOPS_JUPYTER_SERVE_WORKERS": "1"}


def pytest_configure(config):
    """A worker gets a port block of its own (endpoints, dashboards, MLflow UI, the tests'
    own servers); the one process that starts background things makes their shared folder."""
    os.environ.update(KEPT_SETTINGS)
    if WORKER:
        base = 20_000 + 1_000 * int(WORKER.removeprefix("gw"))
        for offset, name in enumerate((*PORT_SETTINGS, "MLOPS_TEST_PORT")):
            os.environ[name] = str(base + 200 * offset)
        return
    import tempfile

    from background import SHARED_ENV, Background

    folder = tempfile.mkdtemp(prefix="mlops-tests-")
    os.environ[SHARED_ENV] = folder  # inherited by xdist's workers, started after this
    config.stash[BACKGROUND] = Background(Path(folder))


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """Coverage of the processes tests start, for the project's own only (see measured/).
    Run last: pytest-cov has started coverage (and set its variable) by then, in each worker."""
    config = os.environ.pop("COVERAGE_PROCESS_CONFIG", None)
    if config:
        measured = str(Path(__file__).parent / "measured")
        os.environ["MLOPS_TEST_COVERAGE"] = config
        paths = [p for p in os.getenv("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ["PYTHONPATH"] = os.pathsep.join([measured, *(p for p in paths if p != measured)])


def pytest_itemcollected(item):
    """Under xdist, a module's tests stay on one worker (its module fixtures are made once)
    and the team's tests share one worker (they share one MLflow server)."""
    if WORKER:
        group = "team" if _needs_team(item) else item.nodeid.split("::")[0]
        # What an xdist_group mark becomes; xdist 3.8 sets it on `_nodeid`, which pytest 9
        # no longer reads, so the groups are set here (the scheduler reads this suffix).
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(f"{item.nodeid}@{group}")


# The longest modules first, so that under xdist no worker is left alone with one at the end
# (pytest times of a full run: the demo 140-200 s, track_notebooks 190 s in all, cluster 100 s,
# the Binder test 40-90 s: its environment installs in the background from the session's start,
# and is ready long before its turn).
LONGEST_FIRST = (
    "tests/test_demo.py",
    "tests/test_track_notebooks.py",
    "tests/test_cluster.py",
    "tests/test_binder.py",
    "tests/test_reproduce.py",
    "tests/test_serve_bad_requests.py",
    "tests/test_pipelines.py",
    "tests/test_monitor_dashboard.py",
    "tests/test_serving.py",
)


def pytest_collection_modifyitems(items):
    """The longest modules first, the rest in their own order."""

    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


def pytest_collection_finish(session):
    """Without xdist, start what the selected tests will wait for now, in the background."""
    background = session.config.stash.get(BACKGROUND, None)
    if background is not None and not WORKER:
        ids = [item.nodeid for item in session.items]
        background.start(binder=_binder(ids), team=any(_needs_team(i) for i in session.items))


def pytest_xdist_node_collection_finished(node, ids):
    """Under xdist (the controller): start them once the first worker says what it collected."""
    background = node.config.stash.get(BACKGROUND, None)
    if background is not None:
        background.start(binder=_binder(ids), team=any(i.endswith("@team") for i in ids))


def _binder(ids) -> bool:
    return any(i.startswith("tests/test_binder.py") for i in ids)


def _needs_team(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "team" in item.fixturenames or (
        callspec is not None and callspec.params.get("store") == "team"
    )


def pytest_sessionfinish(session):
    background = session.config.stash.get(BACKGROUND, None)
    if background is not None:
        background.close()


@pytest.fixture
def binder_install():
    """The repository copy and the venv installed from binder/requirements.txt (waited for)."""
    import background

    return background.binder_install()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    # DVC keeps a site cache under the user's folders; keep tests from sharing one.
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path_factory.mktemp("dvc-site")))
    for key in list(os.environ):
        if key.startswith(("MLOPS_JUPYTER_", "MLFLOW_")) and key not in (
            *PORT_SETTINGS,
            *KEPT_SETTINGS,
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    yield
    from mlops_jupyter.tracking import lineage

    lineage.forget()  # each test is a new session


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """An empty git repository (no DVC yet), as the current directory."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    monkeypatch.chdir(root)
    return root


def pytest_generate_tests(metafunc):
    """Tests marked ``both_stores`` run on the embedded default and on the team's services."""
    if metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store", ["embedded", "team"], indirect=True)


@pytest.fixture(scope="session")
def team():
    """PostgreSQL, an S3-compatible server (moto) and an MLflow server on 127.0.0.1, for the
    whole session (started in the background when the session begins)."""
    import background

    return background.team()


@pytest.fixture
def store(request, repo, monkeypatch):
    """Where the project keeps runs and data: the embedded default, or (``team``) a profile
    pointing at an ``mlflow server`` on PostgreSQL with S3 artifacts, and an S3 DVC remote."""
    kind = getattr(request, "param", "embedded")
    if kind == "embedded":
        yield kind
        return
    from services import S3_ENV

    team = request.getfixturevalue("team")
    server = team.reset()
    (repo / "mlops.toml").write_text(
        TEAM_PROFILE.format(mlflow=server.url, prefix=repo.parent.name, s3=team.s3.url)
    )
    git(repo, "add", "mlops.toml")
    git(repo, "commit", "-q", "-m", "The team profile")
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLOPS_JUPYTER_PROFILE", "team")
    yield server


@pytest.fixture
def project(repo, store) -> Path:
    """A git + DVC project made by ``datasets.init`` (on the store ``store`` says)."""
    from mlops_jupyter import datasets

    datasets.init(repo)
    return repo


@pytest.fixture
def temps(project) -> Path:
    """The talk's case: an hourly time series (Seattle, 2010) in the project's data folder."""
    path = project / "data" / "temps_1h.csv"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(VEGA_DATA / "seattle-temps.csv", path)
    return path


@pytest.fixture
def shell(project):
    """An IPython shell with the extension loaded; ``shell.run(cell)`` fails the test on error."""
    import atexit

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # history as in a kernel, kept in memory
    sh = InteractiveShell.instance(config=config)
    sh.run_line_magic("load_ext", "mlops_jupyter")

    def run(cell: str):
        result = sh.run_cell(cell, store_history=True)
        if not result.success:
            raise (result.error_in_exec or result.error_before_exec)  # type: ignore[misc]
        return result.result

    sh.run = run  # type: ignore[attr-defined]
    yield sh
    # End the shell now: its exit hook would otherwise run a full gc per shell at interpreter exit.
    atexit.unregister(sh.atexit_operations)
    sh.history_manager.end_session()
    sh.history_manager._stop_save_thread()
    sh.user_ns.clear()
    InteractiveShell.clear_instance()


@pytest.fixture
def temps_v1(temps):
    """``temps@v1``: the hourly series as a dataset version."""
    from mlops_jupyter import datasets

    return datasets.add(temps, name="temps", message="hourly window")


@pytest.fixture
def train_notebook(temps_v1, project) -> Path:
    """A parameterized training notebook that reads ``temps`` and logs metrics with mlflow."""
    return make_notebook(
        project / "notebooks" / "train.ipynb",
        "alpha = 1.0\nwindow = 'temps'\nfail = False",
        TRAIN_CELL,
    )


@pytest.fixture
def endpoint(project, monkeypatch):
    """``m@champion`` served from the test's own project (see ``helpers.serve_features``)."""
    from mlops_jupyter import serving

    monkeypatch.setenv("MLOPS_JUPYTER_SAMPLE_SECONDS", "0.5")
    ep = serve_features(project)
    yield ep
    serving.stop(ep.name, project=project)
