"""Named datasets with numbered versions on git + DVC: the plain Python API.

Every function takes ``project`` (any folder inside the project; the current directory by
default) and raises :class:`~mlops_jupyter.errors.MlopsError` with a message a user can act on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import git as gitcmd
from .. import interrupts
from ..errors import MlopsError, NotFoundError
from ..workspace import Workspace, find_root
from . import catalog, diffs, dvcstore, hooks, tables
from .catalog import META_KEY, Version
from .refs import check_name, parse, tag_name

PathLike = str | os.PathLike[str]


def _notice(message: str) -> None:
    print(message, file=sys.stderr)


def init(project: PathLike | None = None) -> Workspace:
    """Make ``project`` (the current directory by default) a project: git, DVC, a local remote.

    Idempotent. Commits only the files it creates (DVC's config and the ignore files).
    """
    folder = Path(project or os.getcwd()).resolve()
    if find_root(folder) is None:
        folder.mkdir(parents=True, exist_ok=True)
        gitcmd.git(folder, "init", "-q")
    ws = Workspace.find(folder)
    if dvcstore.is_initialized(ws) and dvcstore.remotes(ws)[0]:
        return ws
    ignore = ws.root / ".gitignore"
    before = ignore.read_bytes() if ignore.exists() else None
    with gitcmd.locked(ws.root):
        files = [f for f in dvcstore.init(ws) if f != ".gitignore"]
        gitcmd.commit_paths(
            ws.root,
            files,
            "Set up DVC for data versions (mlops-jupyter)",
            ignore_lines={".gitignore": _new_lines(before, ignore)},
        )
    return ws


def _workspace(project: PathLike | None) -> Workspace:
    return Workspace.find(project)


def add(
    path: PathLike,
    name: str | None = None,
    message: str = "",
    project: PathLike | None = None,
) -> Version:
    """Add the file or folder at ``path`` as the next version of dataset ``name``.

    ``name`` defaults to the file's stem. The data goes into DVC's cache; a commit holding only
    its ``.dvc`` file and ``.gitignore`` is tagged ``NAME@vN``. Tables (CSV, Parquet, JSON lines)
    are profiled once, here. Adding data identical to the latest version adds nothing and
    returns that version. An interrupted ``add`` leaves no version behind.
    """
    ws = _workspace(project)
    target = ws.path(path)
    kept = ws.state_dir / "adding" / ws.rel(target)
    if kept.exists():  # an add killed midway (kill -9 runs no `finally`) took files: put back
        with gitcmd.locked(ws.root):
            _put_back(target, kept)
    if not target.exists():
        raise NotFoundError(f"{path} does not exist; check the path (relative to {os.getcwd()})")
    name = check_name(target.name.split(".")[0] if name is None else name)
    if not dvcstore.is_initialized(ws):
        _notice(
            f"Setting up DVC in {ws.root} (first use): local cache, remote "
            f"'{ws.settings.dvc_remote}' at {ws.settings.dvc_remote_url}"
        )
        init(ws.root)
    if dvcstore.is_tracked_by_git(ws, target):
        rel = ws.rel(target)
        raise MlopsError(
            f"{rel} is committed to git itself; let DVC hold it: `git rm -r --cached {rel}` "
            "and commit, then add it again"
        )
    with gitcmd.locked(ws.root):  # one add at a time: the next number is ours until committed
        _keep(target, kept)
        try:
            return _add_locked(ws, target, name, message.strip())
        finally:
            with interrupts.deferred():
                _put_back(target, kept)


def _add_locked(ws: Workspace, target: Path, name: str, message: str) -> Version:
    existing = catalog.versions(ws, name)
    number = (existing[-1].number or 0) + 1 if existing else 1
    tag = tag_name(name, number)
    dvc_file = target.with_name(target.name + ".dvc")
    ignore = target.parent / ".gitignore"
    saved = {f: f.read_bytes() if f.exists() else None for f in (dvc_file, ignore)}
    temporaries = set(target.parent.glob(".*.tmp"))  # DVC's own, while it links into the cache
    fmt = tables.table_format(target) if target.is_file() else None
    pool = ThreadPoolExecutor(max_workers=1)
    committed = False
    try:
        profiling: Future[dict[str, Any]] | None = None
        if fmt:  # profile while DVC hashes and copies: the two overlap on two cores
            profiling = pool.submit(_profile, target, fmt, ws.rel(target))
        out = dvcstore.add(ws, target)
        profile = profiling.result() if profiling else {}
        if existing and existing[-1].md5 == out["md5"]:
            _restore(saved)
            _notice(f"{existing[-1].ref} already holds this data; nothing added")
            return existing[-1]
        summary = catalog.summary_of(ws.rel(target), out, fmt, profile)
        meta: dict[str, Any] = {"name": name, "version": number, **profile}
        if fmt:
            meta["format"] = fmt
        dvcstore.write_meta(dvc_file, {META_KEY: meta}, message or None)
        # Ctrl-C waits for the commit (branch and tag in one ref transaction) and for
        # `committed`: interrupted between the two, a version made would be undone on disk.
        with interrupts.deferred():
            gitcmd.commit_paths(
                ws.root,
                [ws.rel(dvc_file)],
                f"Add dataset {tag}" + (f": {message}" if message else ""),
                tag=tag,
                tag_message=catalog.tag_message(message, summary),
                ignore_lines={ws.rel(ignore): _new_lines(saved[ignore], ignore)},
            )
            committed = True
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if not committed:  # interrupted or refused: leave the workspace as it was
            with interrupts.deferred():
                _restore(saved)
                made = set(target.parent.glob(".*.tmp")) | {
                    dvc_file.with_name(dvc_file.name + ".tmp")
                }
                for left in made - temporaries:
                    left.unlink(missing_ok=True)  # what an interrupted DVC left half-written
    return catalog.resolve(ws, tag)


def _keep(target: Path, kept: Path) -> None:
    """Hard links (no copy) to ``target``'s files at ``kept``. DVC moves a file into its cache,
    then links or copies it back: interrupted between the two, the user's file would be gone."""
    files = [target] if target.is_file() else [f for f in target.rglob("*") if f.is_file()]
    try:
        for file in files:
            dest = kept / file.relative_to(target) if file != target else kept
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(file, dest)
    except OSError:  # a file system without hard links: DVC's own care only
        _remove(kept)


def _put_back(target: Path, kept: Path) -> None:
    """Put back the files an interrupted add left missing (DVC writes a file whole, under a
    temporary name, or not at all), then drop the links."""
    if not (kept.exists() or kept.is_symlink()):
        return
    files = [kept] if kept.is_file() else [f for f in kept.rglob("*") if f.is_file()]
    restored = 0
    for file in files:
        dest = target / file.relative_to(kept) if file != kept else target
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            if file.stat().st_nlink > 1:  # DVC moved it into its cache: a copy, not the object
                shutil.copyfile(file, dest.with_name(f".{dest.name}.restoring"))
                os.replace(dest.with_name(f".{dest.name}.restoring"), dest)
            else:
                os.replace(file, dest)
            restored += 1
    if restored:
        _notice(f"{target.name}: put back {restored} file(s) an interrupted add had taken")
    _remove(kept)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _new_lines(before: bytes | None, path: Path) -> list[str]:
    """The lines DVC added to ``path`` (a .gitignore), which the version's commit holds."""
    old = set((before or b"").decode("utf-8", "replace").splitlines())
    now = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return [line for line in now.splitlines() if line.strip() and line not in old]


def _profile(path: Path, fmt: str, shown: str) -> dict[str, Any]:
    return tables.profile(tables.read_arrow(path, fmt, shown))


def _restore(saved: dict[Path, bytes | None]) -> None:
    for path, content in saved.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(content)


def versions(name: str | None = None, project: PathLike | None = None) -> Any:
    """A DataFrame of the versions of ``name`` (or of every dataset), newest last."""
    import pandas as pd

    ws = _workspace(project)
    name = parse(name).name if name else None
    found = catalog.versions(ws, name)
    if name and not found:
        catalog.resolve(ws, name)  # raises, naming the datasets that do exist
    rows = [
        {
            "dataset": v.name,
            "version": f"v{v.number}",
            "rows": v.rows,
            "columns": v.columns,
            "size": v.size,
            "files": v.files,
            "md5": v.md5[:12],
            "created": v.created,
            "message": v.message,
            "path": v.path,
        }
        for v in found
    ]
    cols = [
        "dataset",
        "version",
        "rows",
        "columns",
        "size",
        "files",
        "md5",
        "created",
        "message",
        "path",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    for col in ("rows", "columns", "size", "files"):
        frame[col] = frame[col].astype("Int64")
    return frame


def info(ref: str, project: PathLike | None = None) -> Version:
    """The :class:`Version` ``ref`` names (``NAME``, ``NAME@vN``, ``NAME@<git revision>``)."""
    return catalog.resolve(_workspace(project), ref)


def show(ref: str, project: PathLike | None = None) -> Any:
    """Schema and per-column statistics of a version, as a DataFrame (one row per column).

    ``frame.attrs["version"]`` is the :class:`Version`. Read from what ``add`` stored: instant.
    """
    import pandas as pd

    ws = _workspace(project)
    version = catalog.resolve(ws, ref)
    profile = catalog.profile_of(ws, version)
    if version.is_dir and not profile.get("columns"):
        return _folder_files(ws, version)
    cols = ["dtype", "count", "nulls", "min", "max", "mean", "distinct", "top"]
    frame = pd.DataFrame.from_dict(profile.get("columns", {}), orient="index", columns=cols)
    frame.index.name = "column"
    frame["top"] = frame["top"].map(_top_text)
    frame.attrs["version"] = version
    return frame


def _folder_files(ws: Workspace, version: Version) -> Any:
    """A folder of files that are not tables: its files by type (count and bytes)."""
    import pandas as pd

    rows = [{"type": Path(entry["relpath"]).suffix.lower() or "(none)",
             "size": _cached_size(ws, entry["md5"])}
            for entry in _listing(ws, version, None)]  # fmt: skip
    files = pd.DataFrame(rows, columns=["type", "size"])
    frame = files.groupby("type").agg(files=("size", "size"), bytes=("size", "sum"))
    frame.attrs["version"] = version
    return frame


def _top_text(top: Any) -> str:
    if not isinstance(top, list):
        return ""
    return ", ".join(f"{value} ({count})" for value, count in top)


def diff(
    a: str,
    b: str | None = None,
    project: PathLike | None = None,
    remote: str | None = None,
    rows: bool = False,
    key: list[str] | str | None = None,
) -> Any:
    """What changed from version ``a`` to ``b``: schema, rows and per-column statistics; for
    two folder versions, the files added, deleted, modified and renamed (a ``FileDiff``, read
    from DVC's cache or ``remote``, with the statistics of the folder's tables beside).

    ``rows=True``: the rows added, removed and changed, and the cells of each changed row
    before and after (a ``RowDiff``; see ``rowdiff``), matched by ``key`` (column names; by
    default a column unique in both, else the whole row). Read from the cache or the remote.

    With one reference: from the version before it to it (``diff("prices")``: the last change).
    """
    ws = _workspace(project)
    va = catalog.resolve(ws, a)
    if b is None:
        vb = va
        earlier = [v for v in catalog.versions(ws, va.name) if (v.number or 0) < (vb.number or 0)]
        if not earlier:
            raise MlopsError(f"{vb.ref} is the first version; name two versions to compare")
        va = earlier[-1]
    else:
        vb = catalog.resolve(ws, b)
    if rows:
        from . import rowdiff

        keys = [key] if isinstance(key, str) else list(key or [])
        ta, tb = (_arrow(ws, v, remote) for v in (va, vb))
        profiles = (catalog.profile_of(ws, va), catalog.profile_of(ws, vb))
        return rowdiff.compute(va, vb, ta, tb, keys, profiles)
    stats = diffs.compute(va, vb, catalog.profile_of(ws, va), catalog.profile_of(ws, vb))
    if not (va.is_dir and vb.is_dir):
        return stats

    listings = _listing(ws, va, remote), _listing(ws, vb, remote)
    return diffs.files(va, vb, *listings, lambda md5: _cached_size(ws, md5), stats)


def _listing(ws: Workspace, version: Version, remote: str | None) -> list[dict[str, Any]]:
    """A folder version's files (``relpath``, ``md5``): DVC's listing, from the cache or remote."""
    return json.loads(dvcstore.fetch(ws, version.md5, version.ref, remote).read_text())


def _cached_size(ws: Workspace, md5: str) -> int | None:
    """The size of a cache object, or None when the local cache lacks it."""
    path = dvcstore.cached_path(ws, md5)
    return path.stat().st_size if path is not None else None


def load(ref: str, project: PathLike | None = None, remote: str | None = None) -> Any:
    """A pandas DataFrame of a version, read from DVC's cache (or the remote) without a checkout.

    A folder of table files loads as one table; a folder of other files (images, say) is a
    read-only local :class:`~pathlib.Path` to that version's files, copied from DVC's cache
    (never a checkout of the workspace): ``PIL.Image.open(load("images@v2") / "cat.png")``.

    Inside a tracked run the version is recorded as one of the run's inputs (lineage); while a
    run is reproduced, the version the original run read is loaded instead.
    """
    ws = _workspace(project)
    version = hooks.pinned(ref) or catalog.resolve(ws, ref)
    frame = _load_version(ws, version, remote)
    hooks.loaded(ws, version, frame, ref)  # tracking records it (see tracking.lineage)
    return frame


def load_version(version: Version, project: PathLike | None = None) -> Any:
    """A DataFrame of exactly ``version`` (say, one a run recorded), not recorded as lineage."""
    return _load_version(_workspace(project), version, None)


def _load_version(ws: Workspace, version: Version, remote: str | None) -> Any:
    fmt = version.format or tables.table_format(version.path)
    if version.is_dir:
        return _load_folder(ws, version, remote)
    if fmt is None:
        raise MlopsError(
            f"{version.ref} ({version.path}) is not a table (csv, parquet, jsonl); "
            f"open it with dvc.api.open('{version.path}', rev='{version.rev}') or check it out"
        )
    path = dvcstore.fetch(ws, version.md5, version.ref, remote)
    return tables.to_pandas(tables.read_arrow(path, fmt, version.ref))


def _arrow(ws: Workspace, version: Version, remote: str | None) -> Any:
    """A table version as an Arrow table, or a Parquet file as its path (read as the row
    diff needs it)."""
    import pyarrow as pa

    fmt = version.format or tables.table_format(version.path)
    if version.is_dir or fmt is None:
        frame = _load_version(ws, version, remote)
        if not hasattr(frame, "columns"):
            raise MlopsError(f"{version.ref} holds no tables; diff its files without --rows")
        return pa.Table.from_pandas(frame, preserve_index=False)
    path = dvcstore.fetch(ws, version.md5, version.ref, remote)
    return path if fmt == "parquet" else tables.read_arrow(path, fmt, version.ref)


def _load_folder(ws: Workspace, version: Version, remote: str | None) -> Any:
    import pyarrow as pa

    listing = _listing(ws, version, remote)
    parts = []
    for entry in sorted(listing, key=lambda e: e["relpath"]):
        fmt = tables.table_format(entry["relpath"])
        if fmt is None:
            continue
        path = dvcstore.fetch(ws, entry["md5"], f"{version.ref}:{entry['relpath']}", remote)
        parts.append(tables.read_arrow(path, fmt, entry["relpath"]))
    if not parts:
        return _materialize(ws, version, listing, remote)
    try:
        table = pa.concat_tables(parts, promote_options="default")
    except pa.ArrowInvalid as exc:
        raise MlopsError(f"the tables in {version.ref} do not share a schema: {exc}") from None
    return tables.to_pandas(table)


def _materialize(
    ws: Workspace, version: Version, listing: list[dict[str, Any]], remote: str | None
) -> Path:
    """The files of a folder version under ``.mlops/folders/<hash>``: copies of DVC's cache
    objects (reflinks where the file system has them: no bytes copied), made read-only.
    Never hard links: a write through a link (as root, mode 0444 stops nothing) would rewrite
    the cache object of every version holding that file, as DVC's own ``reflink,copy``
    default avoids. Made once, in a temporary folder renamed into place: never half there. A
    folder made before is checked against what it was made as (each file's size, inode and
    time, no extra or missing file) and made again on any change. Objects not in the local
    cache are pulled from the remote in one transfer."""
    import tempfile

    target = ws.state_dir / "folders" / version.md5.removesuffix(".dir")
    if target.is_dir():
        if _intact(target):
            return target
        _discard(target)  # written to, or a file removed: lay it out again from the cache
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    objects = str(dvcstore.cache_root(ws) / "files" / "md5")
    made: set[str] = set()

    def lay(entry: dict[str, Any]) -> bool:
        """Copy one file into place; False when its object is not cached."""
        relpath = os.path.normpath(entry["relpath"])  # a fresh tree of folders and files only:
        if os.path.isabs(relpath) or relpath.split(os.sep)[0] == "..":  # no symlink to follow
            raise MlopsError(f"{version.ref} lists a file outside its folder: {entry['relpath']}")
        dest = os.path.join(building, relpath)
        folder = os.path.dirname(dest)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        md5 = entry["md5"]
        source = os.path.join(objects, md5[:2], md5[2:])
        try:
            _clone(source, dest)
        except FileNotFoundError:
            if os.path.exists(source):
                raise
            return False
        os.chmod(dest, 0o444)
        return True

    try:
        missing = [entry for entry in listing if not lay(entry)]
        if missing:  # from the remote, in one transfer; what cannot come is named by fetch
            with contextlib.suppress(MlopsError):
                md5s = sorted({entry["md5"] for entry in missing})
                dvcstore.transfer(ws, md5s, remote, "pull", progress=False)
            for entry in missing:
                if not lay(entry):
                    dvcstore.fetch(ws, entry["md5"], f"{version.ref}:{entry['relpath']}", remote)
                    lay(entry)
        stats = json.dumps(_stats(building))
        building.rename(target)
        manifest = _manifest(target)  # after the folder: a kill between leaves it rebuilt
        manifest.with_name(f".{manifest.name}.new").write_text(stats)
        os.replace(manifest.with_name(f".{manifest.name}.new"), manifest)
    except OSError as e:
        if not target.is_dir():  # else made meanwhile by a process as quick as this one
            raise MlopsError(f"the files of {version.ref} could not be laid out in "
                             f"{ws.rel(target)}: {e.strerror or e}") from None  # fmt: skip
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _manifest(folder: Path) -> Path:
    """What a folder version was laid out as, beside it (never among the user's files)."""
    return folder.with_name(f"{folder.name}.json")


def _clone(source: str, dest: str) -> None:
    """A copy of ``source`` at ``dest`` sharing its blocks where the file system can (a
    reflink: Btrfs, XFS, APFS...), else a plain copy."""
    import fcntl

    with open(source, "rb") as src, open(dest, "xb") as out:
        try:
            fcntl.ioctl(out.fileno(), 0x40049409, src.fileno())  # FICLONE
            return
        except OSError:
            pass
        shutil.copyfileobj(src, out, 1 << 20)


def _stats(folder: Path) -> dict[str, list[int]]:
    """Each file under ``folder``: size, inode and change time."""
    found = {}
    for path in folder.rglob("*"):
        info = path.lstat()
        if not path.is_dir() or path.is_symlink():
            found[str(path.relative_to(folder))] = [info.st_size, info.st_ino, info.st_ctime_ns]
    return found


def _intact(folder: Path) -> bool:
    """Whether ``folder`` holds what it was laid out with: the same files, none changed
    (a write, a ``chmod`` or a rename changes a file's change time; a removal its listing)."""
    try:
        return bool(json.loads(_manifest(folder).read_text()) == _stats(folder))
    except (OSError, ValueError):
        return False


def _discard(folder: Path) -> None:
    """Remove a damaged folder version (renamed aside first: a reader never sees it half)."""
    aside = folder.with_name(f".{folder.name}-damaged-{os.getpid()}")
    _manifest(folder).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)


def checkout(ref: str, force: bool = False, project: PathLike | None = None) -> Version:
    """Put a version's data back in the workspace (its file or folder, and its ``.dvc`` file).

    Refuses, unless ``force``, when the workspace holds data that no version (nor DVC's cache)
    has: whether or not its ``.dvc`` file is there, that data is the user's.
    """
    ws = _workspace(project)
    version = catalog.resolve(ws, ref)
    target = ws.root / version.path
    dvc_file = target.with_name(target.name + ".dvc")
    lost = dvcstore.unsaved(ws, target, dvc_file) if target.exists() and not force else None
    if lost:
        raise MlopsError(
            f"{version.path} holds {lost}; a checkout would lose it: add it first "
            f"(`%dataset add {version.path} --name {version.name}`) or pass --force to drop it"
        )
    text = gitcmd.show_file(ws.root, version.commit, version.path + ".dvc")
    if text is None:  # pragma: no cover - a tag always points at a commit holding the file
        raise NotFoundError(f"{version.ref}: {version.path}.dvc is missing from its commit")
    dvcstore.fetch(ws, version.md5, version.ref)
    tmp = dvc_file.with_name(dvc_file.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dvc_file)
    dvcstore.checkout(ws, dvc_file)
    return version


def _selected(ws: Workspace, refs: Iterable[str] | None) -> list[Version]:
    if not refs:
        return catalog.versions(ws)
    chosen: list[Version] = []
    for ref in refs:
        parsed = parse(ref)
        if "@" in ref:
            chosen.append(catalog.resolve(ws, parsed))
        else:
            catalog.resolve(ws, parsed)  # a clear error for an unknown name
            chosen.extend(catalog.versions(ws, parsed.name))
    return chosen


def push(
    refs: Iterable[str] | None = None,
    remote: str | None = None,
    project: PathLike | None = None,
    progress: bool = True,
) -> int:
    """Upload the data of every version (or of ``refs``: names or ``NAME@vN``) to the remote.

    Returns how many objects were sent; those already there are skipped.
    """
    ws = _workspace(project)
    chosen = _selected(ws, refs)
    missing = [v.ref for v in chosen if dvcstore.cached_path(ws, v.md5) is None]
    if missing:
        _notice(f"not in the local cache, so not pushed: {', '.join(missing)}")
    md5s = [v.md5 for v in chosen if v.ref not in missing]
    sent, failed = dvcstore.transfer(ws, md5s, remote, "push", progress)
    if failed:
        raise MlopsError(f"{len(failed)} objects could not be pushed; run push again")
    return sent


def pull(
    refs: Iterable[str] | None = None,
    remote: str | None = None,
    project: PathLike | None = None,
    progress: bool = True,
) -> int:
    """Download the data of every version (or of ``refs``) into the local cache.

    Workspace files that are missing are then checked out, as ``dvc pull`` does. Returns how
    many objects were received.
    """
    ws = _workspace(project)
    chosen = _selected(ws, refs)
    got, failed = dvcstore.transfer(ws, [v.md5 for v in chosen], remote, "pull", progress)
    if failed:
        lost = sorted({v.ref for v in chosen if v.md5 in failed})
        raise NotFoundError(
            f"not on the remote: {', '.join(lost)}; push them from a machine that has them"
        )
    for path in sorted({v.path for v in chosen}):
        dvc_file = ws.root / (path + ".dvc")
        if dvc_file.exists() and not (ws.root / path).exists():
            dvcstore.checkout(ws, dvc_file)
    return got


def remotes(project: PathLike | None = None) -> Any:
    """A DataFrame of the DVC remotes: name, URL, and which one is the default."""
    import pandas as pd

    urls, default = dvcstore.remotes(_workspace(project))
    rows = [{"remote": n, "url": u, "default": n == default} for n, u in urls.items()]
    return pd.DataFrame(rows, columns=["remote", "url", "default"])


def add_remote(name: str, url: str, default: bool = False, project: PathLike | None = None) -> None:
    """Configure a DVC remote in ``.dvc/config`` (commit that file to share it)."""
    ws = _workspace(project)
    check_name(name)
    if "://" not in url:
        folder = Path(url).expanduser()
        url = str(folder if folder.is_absolute() else (Path.cwd() / folder).resolve())
    dvcstore.set_remote(ws, name, url, default)
