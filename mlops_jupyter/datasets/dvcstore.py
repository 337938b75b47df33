"""What the package asks of DVC: set-up, ``add``, the local cache, remotes, and transfers.

``dvc`` is imported here, lazily, and nowhere else. The cache layout read directly (for a fast
``load``) is DVC 3's: ``<cache>/files/md5/<first two hex digits>/<the rest>``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError, NotFoundError, first_line
from ..git import git
from ..workspace import Workspace

if TYPE_CHECKING:
    from dvc.repo import Repo

DVCIGNORE_LINE = "/{state}/"


def is_initialized(ws: Workspace) -> bool:
    return (ws.root / ".dvc" / "config").is_file()


def init(ws: Workspace) -> list[str]:
    """Set up DVC with a local cache and a default remote; returns the files to commit."""
    from dvc.repo import Repo

    state = ws.state_dir
    state.mkdir(parents=True, exist_ok=True)
    with _quiet():
        if not is_initialized(ws):
            Repo.init(str(ws.root))
        repo = Repo(str(ws.root))
        try:
            if ws.settings.dvc_remote not in _remote_urls(repo):
                _write_remote(repo, ws.settings.dvc_remote, _remote_url(ws), default=True, ws=ws)
        finally:
            repo.close()
    files = [".dvc/config", ".dvc/.gitignore", ".dvcignore"]
    try:
        rel_state = ws.rel(state)
    except ValueError:
        return files  # the state folder lives outside the project: nothing to ignore
    _append_line(ws.root / ".dvcignore", DVCIGNORE_LINE.format(state=rel_state))
    _append_line(ws.root / ".gitignore", f"/{rel_state}/")
    return [*files, ".gitignore"]


def _remote_url(ws: Workspace) -> str:
    url = ws.settings.dvc_remote_url
    if "://" in url:
        return url
    folder = ws.resolve_setting(url)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _append_line(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if line in text.splitlines():
        return
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n", encoding="utf-8")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """DVC's hints ('To track the changes with git, run ...') and spinners are for its CLI."""
    from dvc.ui import ui

    log = logging.getLogger("dvc")
    level, quiet = log.level, ui.error_console.quiet
    log.setLevel(logging.ERROR)
    ui.error_console.quiet = True
    try:
        yield
    finally:
        log.setLevel(level)
        ui.error_console.quiet = quiet


@contextlib.contextmanager
def open_repo(ws: Workspace) -> Iterator[Repo]:
    from dvc.repo import Repo

    with _quiet():
        repo = Repo(str(ws.root))
        try:
            yield repo
        finally:
            repo.close()


def add(ws: Workspace, path: Path) -> dict[str, Any]:
    """``dvc add`` one file or folder; returns the output entry DVC wrote (md5, size, nfiles)."""
    from dvc.exceptions import DvcException

    rel = ws.rel(path)
    with open_repo(ws) as repo:
        try:
            repo.add(str(path))
        except DvcException as exc:
            raise MlopsError(f"DVC could not add {rel}: {first_line(exc)}") from None
    return read_dvc_file(path.with_name(path.name + ".dvc").read_text(encoding="utf-8"), rel)


def read_dvc_file(text: str, where: str) -> dict[str, Any]:
    """The single output of a ``.dvc`` file's text, with its ``meta`` and ``desc`` alongside."""
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        out = dict(data["outs"][0])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        raise MlopsError(f"{where}.dvc is not a valid DVC file; restore it from git") from None
    out["meta"] = data.get("meta") or {}
    out["desc"] = data.get("desc")
    return out


def write_meta(dvc_file: Path, meta: dict[str, Any], desc: str | None) -> None:
    """Store our metadata in the ``.dvc`` file's ``meta``/``desc`` fields (DVC keeps both)."""
    import yaml

    data = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))
    if desc:
        data["desc"] = desc
    data["meta"] = meta
    tmp = dvc_file.with_name(dvc_file.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(dvc_file)


def cache_dir(ws: Workspace) -> Path | None:
    """The local cache folder when it is the default one; None when DVC is configured otherwise."""
    for name in ("config", "config.local"):
        cfg = ws.root / ".dvc" / name
        if cfg.is_file() and "dir" in cfg.read_text(encoding="utf-8").partition("[cache]")[2]:
            return None
    return ws.root / ".dvc" / "cache"


def cache_root(ws: Workspace) -> Path:
    """The local cache folder, wherever DVC is configured to keep it."""
    root = cache_dir(ws)
    if root is None:
        with open_repo(ws) as repo:
            root = Path(repo.cache.local.path).parent.parent
    return root


def cached_path(ws: Workspace, md5: str) -> Path | None:
    """Where the object ``md5`` lies in the local cache, or None when it is not there."""
    path = cache_root(ws) / "files" / "md5" / md5[:2] / md5[2:]
    return path if path.exists() else None


def remotes(ws: Workspace) -> tuple[dict[str, str], str | None]:
    """The configured remotes (name -> URL) and the default one."""
    with open_repo(ws) as repo:
        return _remote_urls(repo), repo.config["core"].get("remote")


def _remote_urls(repo: Repo) -> dict[str, str]:
    return {name: conf["url"] for name, conf in repo.config["remote"].items()}


def set_remote(ws: Workspace, name: str, url: str, default: bool) -> None:
    with open_repo(ws) as repo:
        _write_remote(repo, name, url, default, ws=ws)


def _write_remote(
    repo: Repo, name: str, url: str, default: bool, ws: Workspace, level: str = "repo"
) -> None:
    """Add remote ``name``; an ``s3://`` one gets the settings' S3-compatible endpoint."""
    with repo.config.edit(level) as conf:
        conf["remote"][name] = {"url": url}
        if url.startswith("s3://") and ws.settings.s3_endpoint_url:
            conf["remote"][name]["endpointurl"] = ws.settings.s3_endpoint_url
        if default:
            conf["core"]["remote"] = name


def _profile_remote(ws: Workspace, repo: Repo) -> str | None:
    """The remote a selected profile names, added to DVC's local (git-ignored) config when the
    project does not have it yet, so that ``dvc push -r NAME`` finds it too; None without a
    profile."""
    if not ws.settings.profile:
        return None
    name = ws.settings.dvc_remote
    if name not in _remote_urls(repo):
        _write_remote(repo, name, _remote_url(ws), default=False, ws=ws, level="local")
    return name


def remote_config(ws: Workspace, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The name and merged DVC configuration (url, endpointurl, keys...) of remote ``name``
    (else the selected profile's, else the default remote)."""
    with open_repo(ws) as repo:
        name = name or _profile_remote(ws, repo) or repo.config["core"].get("remote")
        if not name or name not in repo.config["remote"]:
            known = ", ".join(repo.config["remote"]) or "none"
            raise NotFoundError(f"no DVC remote {name!r}; configured remotes: {known}")
        return name, dict(repo.config["remote"][name])


def check_s3(ws: Workspace, conf: dict[str, Any]) -> str:
    """A line saying the bucket of the ``s3://`` remote configured by ``conf`` answers;
    :class:`MlopsError` saying why it does not."""
    from .. import s3

    endpoint = conf.get("endpointurl") or ws.settings.s3_endpoint_url or None
    return s3.check_bucket(str(conf["url"]), endpoint, conf)


def transfer(
    ws: Workspace, md5s: list[str], remote: str | None, direction: str, progress: bool = True
) -> tuple[int, list[str]]:
    """Copy objects between the local cache and a remote ('push' or 'pull') with a progress bar.

    Returns how many were transferred and which could not be.
    """
    from dvc.config import NoRemoteError
    from dvc.exceptions import DvcException
    from dvc_data.hashfile.hash_info import HashInfo
    from fsspec.callbacks import DEFAULT_CALLBACK, TqdmCallback
    from tqdm.auto import tqdm

    with open_repo(ws) as repo:
        remote = remote or _profile_remote(ws, repo)
        try:
            odb = repo.cloud.get_remote_odb(remote, direction)
        except NoRemoteError:
            raise MlopsError(
                "no DVC remote is configured; add one with `%dataset remote add NAME URL`"
            ) from None
        except DvcException as exc:
            raise MlopsError(f"remote {remote or 'default'}: {first_line(exc)}") from None
        cache = repo.cache.local
        src, dest = (cache, odb) if direction == "push" else (odb, cache)
        where = odb.fs.unstrip_protocol(odb.path)
        label = f"Pushing to {where}" if direction == "push" else f"Pulling from {where}"
        callback = (
            TqdmCallback(tqdm_kwargs={"desc": label, "unit": "file"}, tqdm_cls=tqdm)
            if progress
            else DEFAULT_CALLBACK
        )
        # a folder's object is its listing: its files go with it (pulled once it has arrived)
        objs = [HashInfo("md5", md5) for md5 in dict.fromkeys(md5s)]
        asked = _with_files(cache, objs) if direction == "push" else list(objs)
        transferred, failed = 0, set[str]()

        def send(batch: list[Any]) -> None:
            nonlocal transferred
            result = repo.cloud.transfer(src, dest, batch, callback=callback, cache_odb=cache)
            transferred += len(result.transferred)
            failed.update(str(h.value) for h in result.failed)

        try:
            send(asked)
            if direction == "pull" and (files := _with_files(cache, objs)[len(objs) :]):
                send(files)
                asked += files
        except Exception as exc:  # noqa: BLE001 - storage errors surface from fsspec and boto
            _explain_storage(ws, repo, remote, direction)
            said = first_line(exc) if isinstance(exc, DvcException) else f"{exc!r}"[:200]
            raise MlopsError(f"{direction} failed: {said}") from None
        finally:
            callback.close()
        if failed:
            _explain_storage(ws, repo, remote, direction)
        if direction == "pull":  # objects the remote lacks are skipped, not failed: count them
            failed |= {str(h.value) for h in asked if not cache.exists(h.value)}
    return transferred, sorted(failed)


def _with_files(cache: Any, objs: list[Any]) -> list[Any]:
    """``objs`` and, for each folder listing among them in the local cache, its files."""
    from dvc_data.hashfile.hash_info import HashInfo

    found = list(objs)
    for obj in objs:
        if obj.value.endswith(".dir") and cache.exists(obj.value):
            listing = json.loads(Path(cache.oid_to_path(obj.value)).read_text())
            found += [HashInfo("md5", entry["md5"]) for entry in listing]
    return list(dict.fromkeys(found))


def _explain_storage(ws: Workspace, repo: Repo, remote: str | None, direction: str) -> None:
    """When a transfer to or from an ``s3://`` remote failed: raise the one line saying why
    (bucket missing, credentials refused, storage unreachable), if the bucket check finds it."""
    name = remote or repo.config["core"].get("remote")
    conf = dict(repo.config["remote"].get(name, {})) if name else {}
    if not str(conf.get("url", "")).startswith("s3://"):
        return
    try:
        check_s3(ws, conf)
    except MlopsError as exc:
        way = "to" if direction == "push" else "from"
        raise MlopsError(f"{exc} ({direction} {way} remote {name!r} failed)") from None


def fetch(ws: Workspace, md5: str, what: str, remote: str | None = None) -> Path:
    """Bring one object into the local cache from the remote; its cache path."""
    found = cached_path(ws, md5)
    if found is not None:
        return found
    try:
        _, failed = transfer(ws, [md5], remote, "pull", progress=False)
    except MlopsError as exc:
        raise NotFoundError(f"the data of {what} is not in the local cache, and {exc}") from None
    found = cached_path(ws, md5)
    if failed or found is None:
        raise NotFoundError(
            f"the data of {what} (md5 {md5[:12]}) is in neither the local cache nor the remote; "
            "push it from a machine that has it (`%dataset push`)"
        )
    return found


def checkout(ws: Workspace, dvc_file: Path) -> None:
    """Make the workspace file match ``dvc_file`` (DVC links or copies it from the cache)."""
    from dvc.exceptions import DvcException

    with open_repo(ws) as repo:
        try:
            repo.checkout(targets=[str(dvc_file)], force=True)
        except DvcException as exc:
            raise MlopsError(f"checkout failed: {first_line(exc)}") from None


def is_modified(ws: Workspace, dvc_file: Path) -> bool:
    """Whether the workspace data differs from what ``dvc_file`` records (DVC's own check)."""
    with open_repo(ws) as repo:
        return bool(repo.status(targets=[str(dvc_file)]))


def unsaved(ws: Workspace, path: Path, dvc_file: Path) -> str | None:
    """What of the data at ``path`` neither a version nor DVC's cache holds (None: nothing).

    Data that matches its ``.dvc`` file, or whose every byte DVC's cache has, can be got back;
    anything else is the user's own work, which a checkout would destroy.
    """
    if dvc_file.exists() and not is_modified(ws, dvc_file):
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    lost = [f for f in files if cached_path(ws, _md5(f)) is None]
    if not lost:
        return None
    if path.is_file():
        return f"{path.stat().st_size:,} bytes that no version holds"
    shown = ", ".join(p.relative_to(path).as_posix() for p in lost[:3])
    return f"{len(lost)} file(s) that no version holds ({shown}{', ...' if len(lost) > 3 else ''})"


def _md5(path: Path) -> str:
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as data:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_tracked_by_git(ws: Workspace, path: Path) -> bool:
    return bool(git(ws.root, "ls-files", "--", ws.rel(path)))
