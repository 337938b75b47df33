"""The project a notebook works in: its root, its settings and the paths under it.

The project root is the enclosing git repository. Settings have embedded defaults that need no
server; a project overrides them in ``mlops.toml`` (or ``[tool.mlops-jupyter]`` in its
``pyproject.toml``), and ``MLOPS_JUPYTER_<SETTING>`` environment variables override both.

A profile is a named set of settings in the same file, ``[profiles.NAME]``, applied over the
file's top level when selected by ``MLOPS_JUPYTER_PROFILE`` or the file's ``profile`` key: the
team's tracking server and bucket are one profile away from the embedded default::

    [profiles.team]
    mlflow_tracking_uri = "http://mlflow.internal:5000"
    dvc_remote = "team"
    dvc_remote_url = "s3://ml-data/dvc"
    s3_endpoint_url = "http://minio.internal:9000"   # S3-compatible storage; omit for AWS
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MlopsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SETTINGS_FILE = "mlops.toml"
ENV_PREFIX = "MLOPS_JUPYTER_"


@dataclass(frozen=True)
class Settings:
    """Where the project keeps its state. Relative paths are relative to the project root."""

    state_dir: str = field(
        default=".mlops",
        metadata={
            "help": "Folder (ignored by git and DVC) for the embedded stores, logs, endpoints."
        },
    )
    dvc_remote: str = field(
        default="local",
        metadata={"help": "Name of the DVC remote that push and pull use by default."},
    )
    dvc_remote_url: str = field(
        default=".mlops/dvc-storage",
        metadata={"help": "URL of that remote when the project is set up: a folder, s3://..."},
    )
    mlflow_tracking_uri: str = field(
        default="sqlite:///.mlops/mlflow.db",
        metadata={"help": "MLflow store (MLFLOW_TRACKING_URI overrides it too)."},
    )
    optuna_storage: str = field(
        default="sqlite:///.mlops/optuna.db",
        metadata={
            "help": "Database of the searches' Optuna studies (a team's: postgresql://...); "
            "not MLflow's own, as both keep an alembic version table."
        },
    )
    cluster: str = field(
        default="",
        metadata={
            "help": "Dask scheduler that runs sweeps and searches (tcp://HOST:8786); "
            "empty: local processes."
        },
    )
    mlflow_artifacts: str = field(
        default=".mlops/mlartifacts",
        metadata={"help": "Where the embedded MLflow store keeps artifacts."},
    )
    endpoints_dir: str = field(
        default=".mlops/endpoints",
        metadata={"help": "Where model endpoints are recorded."},
    )
    logs_dir: str = field(
        default=".mlops/logs",
        metadata={"help": "Where prediction and server logs are written."},
    )
    s3_endpoint_url: str = field(
        default="",
        metadata={
            "help": "Endpoint of S3-compatible storage (MinIO, Ceph...) for s3:// DVC remotes "
            "and MLflow artifacts; empty for AWS S3."
        },
    )
    serve_port: str = field(
        default="5100",
        metadata={"help": "First port tried for a model endpoint (the next free one is used)."},
    )
    dashboard_port: str = field(
        default="8866",
        metadata={"help": "First port tried for a published dashboard (Voilà)."},
    )
    ui_port: str = field(
        default="5000",
        metadata={"help": "First port tried for the MLflow UI (`%track ui`)."},
    )
    serve_workers: str = field(
        default="auto",
        metadata={
            "help": "Worker processes per endpoint when `--workers` is not given; auto: one per "
            "core, at most 4."
        },
    )
    serve_allow_origins: str = field(
        default="",
        metadata={
            "help": "Web origins (comma-separated, or *) whose pages may call endpoints from a "
            "browser; none by default."
        },
    )
    prediction_log_fsync: str = field(
        default="false",
        metadata={
            "help": "true: each prediction's log record reaches the disk (fsync) before the "
            "answer, so it survives a power loss; costs about a disk flush per request."
        },
    )
    track_history: str = field(
        default="true",
        metadata={
            "help": "Keep the kernel's earlier cells with a tracked cell's run (secrets "
            "redacted); false keeps the cell alone."
        },
    )
    profile: str = field(
        default="",
        metadata={"help": "The [profiles.NAME] of the settings file in use (empty: none)."},
    )

    def port(self, name: str) -> int:
        """A port setting as a number; :class:`MlopsError` when it is not one."""
        value = str(getattr(self, name)).strip()
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise MlopsError(f"setting {name} must be a port number (1-65535), not {value!r}")
        return int(value)

    def flag(self, name: str) -> bool:
        """A yes/no setting: true, 1, yes or on mean yes."""
        return str(getattr(self, name)).strip().lower() in ("true", "1", "yes", "on")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def load(cls, root: Path, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, then the project's file, then its selected profile, then the environment."""
        env_vars: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = _file_settings(root)
        profiles = values.pop("profiles", {})
        profile = env_vars.get(ENV_PREFIX + "PROFILE") or values.get("profile") or ""
        if profile:
            if not isinstance(profiles, dict) or profile not in profiles:
                known = sorted(profiles) if isinstance(profiles, dict) else []
                raise MlopsError(
                    f"no profile {profile!r} in {root / SETTINGS_FILE}; "
                    + (f"known profiles: {', '.join(known)}" if known else "add [profiles."
                       f"{profile}] with its settings, or unset {ENV_PREFIX}PROFILE")
                )  # fmt: skip
            values.update({k.replace("-", "_"): v for k, v in profiles[profile].items()})
            values["profile"] = profile
        for name in cls.names():
            env = env_vars.get(ENV_PREFIX + name.upper())
            if env is not None:
                values[name] = env
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise MlopsError(
                f"unknown setting {unknown[0]!r} in {SETTINGS_FILE}; "
                f"known settings: {', '.join(cls.names())}"
            )
        return cls(**{k: str(v) for k, v in values.items()})


def _file_settings(root: Path) -> dict[str, Any]:
    for name, section in ((SETTINGS_FILE, None), ("pyproject.toml", ("tool", "mlops-jupyter"))):
        path = root / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MlopsError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
        for key in section or ():
            data = data.get(key, {})
        if data:
            return {k.replace("-", "_"): v for k, v in data.items()}
    return {}


def profiles(root: Path) -> list[str]:
    """The profile names that the project's settings file defines."""
    found = _file_settings(root).get("profiles", {})
    return sorted(found) if isinstance(found, dict) else []


def find_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The top of the git repository enclosing ``start`` (the current directory by default)."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


class Workspace:
    """A project: a git repository, with DVC and the embedded stores set up on first use."""

    def __init__(self, root: Path, settings: Settings | None = None):
        self.root = root
        self.settings = settings or Settings.load(root)

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace enclosing ``start``; :class:`MlopsError` outside a git repository."""
        root = find_root(start)
        if root is None:
            where = Path(start or os.getcwd()).resolve()
            raise MlopsError(
                f"{where} is not inside a git repository; run `%dataset init` "
                "(or `datasets.init()`) to make it a project"
            )
        return cls(root)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def state_dir(self) -> Path:
        """The state folder, made on first use with a ``.gitignore`` of its own: it holds the
        tracking store, prediction logs with request inputs and endpoint tokens, which must
        never reach a commit, whichever command made the folder."""
        folder = self._resolve(self.settings.state_dir)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            folder.mkdir(parents=True, exist_ok=True)
            ignore.write_text("# made by mlops-jupyter: local state, never committed\n*\n")
        return folder

    def resolve_setting(self, value: str) -> Path:
        """A path setting as an absolute path (one under the state folder makes that folder)."""
        path = self._resolve(value)
        if self._in_state_dir(path):
            self.state_dir  # noqa: B018 - made, with its .gitignore
        return path

    def _resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    def path(self, value: str | os.PathLike[str]) -> Path:
        """``value`` (relative to the current directory) as an absolute path inside the project.

        Raises :class:`MlopsError` when it points outside the project or into its metadata.
        """
        path = Path(os.path.abspath(Path(value).expanduser()))
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            raise MlopsError(
                f"{value} is outside the project {self.root}; copy it into the project first"
            ) from None
        if rel.parts and rel.parts[0] in (".git", ".dvc") or self._in_state_dir(path):
            raise MlopsError(f"{value} is inside the project's own metadata; pick a data file")
        return path

    def _in_state_dir(self, path: Path) -> bool:
        try:
            path.relative_to(self._resolve(self.settings.state_dir))
        except ValueError:
            return False
        return True

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root, with forward slashes."""
        return path.relative_to(self.root).as_posix()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fresh temporary file that only the user can read."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
