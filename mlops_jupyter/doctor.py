"""``mlops-jupyter doctor``: check a project's set-up (a profile's), one line per part.

Each check says what it found and, when it fails, what to do: the settings file and profile, the
project (git, DVC), the MLflow store (reachable, credentials accepted, its database working), the
artifact store behind it, and the DVC remote (bucket there, credentials accepted).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import MlopsError
from .tracking import remote, store
from .workspace import ENV_PREFIX, SETTINGS_FILE, Settings, Workspace, find_root


@dataclass(frozen=True)
class Check:
    part: str
    status: str  # "ok", "warn" or "fail"
    detail: str

    def __str__(self) -> str:
        shown = "ok" if self.status == "ok" else self.status.upper()
        return f"{shown:<5} {self.part:<10} {self.detail}"


def check(project: str | os.PathLike[str] | None = None, profile: str | None = None) -> list[Check]:
    """Every check of the project enclosing ``project`` with ``profile`` selected (if given)."""
    return list(_checks(project, profile))


def _checks(project: str | os.PathLike[str] | None, profile: str | None) -> Iterator[Check]:
    root = find_root(project)
    if root is None:
        yield Check("project", "fail", "not inside a git repository; run `%dataset init` first")
        return
    environ = dict(os.environ)
    if profile:
        environ[ENV_PREFIX + "PROFILE"] = profile
    try:
        settings = Settings.load(root, environ)
    except MlopsError as exc:
        yield Check("settings", "fail", str(exc))
        return
    where = SETTINGS_FILE if (root / SETTINGS_FILE).is_file() else "embedded defaults"
    chosen = f"profile {settings.profile!r} of {SETTINGS_FILE}" if settings.profile else where
    yield Check("settings", "ok", chosen)
    ws = Workspace(root, settings)
    yield _guard("project", lambda: _project(ws))
    yield _guard("tracking", lambda: _tracking(ws))
    yield _guard("artifacts", lambda: _artifacts(ws))
    yield _guard("data", lambda: _data(ws))


def _guard(part: str, func: Callable[[], Check]) -> Check:
    try:
        return func()
    except MlopsError as exc:
        return Check(part, "fail", str(exc))


def _project(ws: Workspace) -> Check:
    from .datasets import dvcstore

    if not dvcstore.is_initialized(ws):
        return Check("project", "warn", f"{ws.root}: git, but no DVC yet; run `%dataset init`")
    return Check("project", "ok", f"{ws.root}: git and DVC")


def _tracking(ws: Workspace) -> Check:
    uri = store.tracking_uri(ws)
    if uri.startswith("sqlite:"):
        path = Path(uri.removeprefix("sqlite:///"))
        state = "exists" if path.exists() else "is made on first use"
        return Check("tracking", "ok", f"embedded MLflow store {_short(ws, path)} ({state})")
    if not remote.is_server(uri):
        return Check("tracking", "warn", f"MLflow store {uri}: not checked (not a server)")
    remote.probe(uri)
    return Check("tracking", "ok", f"MLflow server {_version(uri)}at {uri} answers")


def _version(uri: str) -> str:
    import requests

    try:
        answer = requests.get(uri.rstrip("/") + "/version", timeout=5, **remote.auth())
    except requests.exceptions.RequestException:
        return ""
    text = answer.text.strip()
    return f"{text} " if answer.ok and len(text) < 20 else ""


def _artifacts(ws: Workspace) -> Check:
    import requests

    uri = store.tracking_uri(ws)
    if not remote.is_server(uri):
        folder = Path(store.artifact_root(ws).removeprefix("file://"))
        return Check("artifacts", "ok", f"in the project: {_short(ws, folder)}")
    url = uri.rstrip("/") + remote.ARTIFACTS
    try:
        answer = requests.get(url, timeout=10, **remote.auth())
    except requests.exceptions.RequestException as exc:
        return Check("artifacts", "fail", f"no answer from {url} ({type(exc).__name__})")
    if answer.status_code in (404, 503):
        return Check(
            "artifacts",
            "warn",
            "the server does not proxy artifacts: each client writes to the experiments' "
            "artifact locations itself and needs that storage's credentials",
        )
    if not answer.ok:
        raise remote.from_status(uri, answer.status_code, remote.message(answer))
    return Check("artifacts", "ok", "the server stores artifacts (proxied), and its store answers")


def _data(ws: Workspace) -> Check:
    from .datasets import dvcstore

    if not dvcstore.is_initialized(ws):
        return Check("data", "warn", "no DVC yet, so no remote; run `%dataset init`")
    name, conf = dvcstore.remote_config(ws)
    url = str(conf["url"])
    label = f"DVC remote {name!r} ({url})"
    if url.startswith("s3://"):
        return Check("data", "ok", f"{label}: {dvcstore.check_s3(ws, conf)}")
    if "://" not in url:
        folder = Path(url) if Path(url).is_absolute() else ws.root / ".dvc" / url
        if not folder.is_dir():
            return Check("data", "warn", f"{label}: the folder does not exist yet (push makes it)")
        if not os.access(folder, os.W_OK):
            return Check("data", "fail", f"{label}: the folder is not writable")
        return Check("data", "ok", f"{label}: a folder, writable")
    return Check("data", "warn", f"{label}: not checked (only s3:// and folders are)")


def _short(ws: Workspace, path: Path) -> str:
    try:
        return ws.rel(path)
    except ValueError:
        return str(path)
