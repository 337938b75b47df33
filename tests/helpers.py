"""Helpers the tests share: git, notebooks, a training cell, requests to an endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

VEGA_DATA = Path(__import__("vega_datasets").__file__).parent / "_data"


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "DVC_NO_ANALYTICS": "1",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


TEAM_PROFILE = """[profiles.team]
mlflow_tracking_uri = "{mlflow}"
dvc_remote = "team"
dvc_remote_url = "s3://dvc/{prefix}"
s3_endpoint_url = "{s3}"
"""


def make_notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    """Write a notebook: a cell tagged ``parameters`` (if given), then ``cells``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


TRAIN_CELL = """import mlflow
import numpy as np
from sklearn.linear_model import Ridge
from mlops_jupyter import datasets, tracking
df = datasets.load(window)
X = (df[["date"]].astype("int64") // 10**9 // 3600) % 24
noise = np.random.normal(size=len(df))
model = Ridge(alpha=alpha).fit(X, df["temp"] + noise)
rmse = float(((model.predict(X) - df["temp"]) ** 2).mean() ** 0.5)
mlflow.log_metric("rmse", rmse)
for step in range(5):
    tracking.log_metric("loss", rmse / (step + 1), step=step)
assert not fail, "asked to fail"
"""


def call(
    url: str, body: bytes | None = None, content_type: str = "application/json", headers=None
) -> tuple[int, dict[str, str], Any]:
    """One request: status, headers and the JSON answer (an HTTP error is an answer too)."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def send(url: str, frame, request_id: str | None = None) -> list:
    """POST ``frame`` to an endpoint's /invocations (``dataframe_split``); its predictions."""
    body = json.dumps({"dataframe_split": {"columns": list(frame), "data": frame.values.tolist()}})
    headers = {"Content-Type": "application/json"}
    if request_id:
        headers["X-Request-Id"] = request_id
    request = urllib.request.Request(url + "/invocations", body.encode(), headers)
    try:
        return json.loads(urllib.request.urlopen(request, timeout=30).read())["predictions"]
    except urllib.error.HTTPError as exc:
        raise AssertionError(exc.read().decode()) from None


FEATURES = [f"f{i}" for i in range(4)]


def train_classifier(project, alpha: float = 1.0, name: str = "clf", alias: str = "champion"):
    """A LogisticRegression on four numeric features, registered as ``NAME@ALIAS``; its
    version and training frame."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops_jupyter import tracking

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=FEATURES)
    y = (X.f0 + X.f1 > 0).astype(int)
    with tracking.run(name=f"{name}-{alpha}", project=project) as run:
        model = LogisticRegression(C=alpha).fit(X, y)
        tracking.log_model(model, input_example=X.head(3))
    return tracking.register(run.id, name, alias=alias, project=project), X


def serve_classifier(root: Path, workers: int = 1, settings: str = ""):
    """A git project at ``root`` (``settings``: its mlops.toml) serving ``clf@champion``; the
    endpoint and training frame."""
    from mlops_jupyter import serving

    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    if settings:
        (root / "mlops.toml").write_text(settings)
    _, X = train_classifier(root)
    return serving.start("clf@champion", workers=workers, project=root), X


def serve_features(project: Path):
    """A classifier of ``features@v1`` (a, b, c; ``extra`` is never served), registered as
    ``m@champion`` and served from ``project`` (a git + DVC project); the endpoint."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops_jupyter import datasets, serving, tracking

    rng = np.random.default_rng(3)
    train = pd.DataFrame(rng.normal(size=(2000, 3)), columns=["a", "b", "c"])
    train["extra"] = 1.0
    (project / "features.csv").write_text(train.to_csv(index=False))
    datasets.add(project / "features.csv", name="features", project=project)
    with tracking.run(name="fit", project=project) as run:
        df = datasets.load("features@v1", project=project)
        X = df[["a", "b", "c"]]
        model = LogisticRegression().fit(X, (X.a > 0).astype(int))
        tracking.log_model(model, input_example=X.head(2))
    tracking.register(run.id, "m", alias="champion", project=project)
    return serving.start("m@champion", project=project)


@contextlib.contextmanager
def shared_endpoint(tmp_path_factory, prefix: str):
    """``serve_features`` in a project of the module's own (started once for its tests, which
    take ``fresh_traffic`` of it); the project and the endpoint."""
    import pytest

    from mlops_jupyter import datasets, serving

    with module_project(tmp_path_factory, prefix) as root, pytest.MonkeyPatch.context() as env:
        env.setenv("DVC_SITE_CACHE_DIR", str(root.parent / "dvc-site"))
        env.setenv("MLOPS_JUPYTER_SAMPLE_SECONDS", "0.5")
        datasets.init(root)
        endpoint = serve_features(root)
        try:
            yield root, endpoint
        finally:
            serving.stop(endpoint.name, project=root)


def fresh_traffic(endpoint, project: Path):
    """Empty ``endpoint``'s prediction log and drop its labels, as if it had just started: a
    test sharing it sees its own requests only. Workers append (``O_APPEND``), so the next
    record lands at the start of the emptied file."""
    from mlops_jupyter.serving import endpoints, predlog
    from mlops_jupyter.workspace import Workspace

    for path in predlog.files(Path(endpoints.record_of(endpoint)["log_dir"])):
        if path.suffix == ".parquet":  # compacted: nobody writes it
            path.unlink()
        else:
            os.truncate(path, 0)
    state = Workspace.find(project).state_dir
    (state / "monitoring" / endpoint.name / "labels.parquet").unlink(missing_ok=True)
    return endpoint


def wait_for(condition, timeout: float = 10.0, every: float = 0.05):
    """Poll ``condition()`` until it is truthy (its value), failing after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"still not true after {timeout} s: {condition}"
        time.sleep(every)


@contextlib.contextmanager
def module_project(tmp_path_factory, prefix: str):
    """A git project for one module's tests (module-scoped fixtures run outside each test's
    isolated environment, so git's identity is set here)."""
    import pytest

    root = tmp_path_factory.mktemp(prefix) / "project"
    root.mkdir()
    with pytest.MonkeyPatch.context() as env:
        for key, value in GIT_ENV.items():
            env.setenv(key, value)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        yield root
