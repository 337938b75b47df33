"""``%dataset``: data versions from a notebook, a thin layer over :mod:`mlops_jupyter.datasets`.

Each subcommand parses its own arguments (``%dataset SUBCOMMAND --help``), calls the API and
shows the result; a user's mistake comes back as one line, not a traceback.
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .common import run_subcommand


@magic_arguments(name="dataset init")
@argument("folder", nargs="?", help="the project folder (default: the current directory)")
def _init(args: Any) -> Any:
    """Make a project: git (if needed), DVC with a local cache, and a local remote."""
    from .. import datasets

    ws = datasets.init(args.folder)
    print(f"Project ready at {ws.root}")
    return ws


@magic_arguments(name="dataset add")
@argument("path", help="the file or folder to version")
@argument("--name", "-n", help="dataset name (default: the file name without extension)")
@argument("--message", "-m", default="", help="what this version is")
def _add(args: Any) -> Any:
    """Add a file or folder as the next version of a dataset: ``NAME@vN``."""
    from .. import datasets

    return datasets.add(args.path, name=args.name, message=args.message)


@magic_arguments(name="dataset list")
@argument("name", nargs="?", help="only this dataset's versions")
def _list(args: Any) -> Any:
    """Versions: rows, columns, size, hash, date and message, in an interactive table."""
    from .. import datasets
    from ..views.table import InteractiveFrame

    return InteractiveFrame(datasets.versions(args.name))


@magic_arguments(name="dataset show")
@argument("ref", help="NAME, NAME@vN, NAME@latest or NAME@<git revision>")
def _show(args: Any) -> Any:
    """Schema and per-column statistics of a version."""
    from .. import datasets

    frame = datasets.show(args.ref)
    version = frame.attrs["version"]
    print(
        f"{version} · md5 {version.md5[:12]}" + (f" · {version.message}" if version.message else "")
    )
    return frame


@magic_arguments(name="dataset diff")
@argument("a", help="the earlier version (alone: compare it with the version before it)")
@argument("b", nargs="?", help="the later version")
@argument("--rows", action="store_true", help="rows added, removed and changed, cell by cell")
@argument("--key", nargs="+", metavar="COLUMN", help="the columns that identify a row")
def _diff(args: Any) -> Any:
    """Schema, row-count and per-column statistic changes between two versions (with --rows,
    the rows and cells that changed); for two folder versions, the files added, deleted,
    modified and renamed."""
    from .. import datasets

    return datasets.diff(args.a, args.b, rows=args.rows or bool(args.key), key=args.key)


@magic_arguments(name="dataset load")
@argument("ref", help="NAME, NAME@vN, NAME@latest or NAME@<git revision>")
@argument("--remote", "-r", help="DVC remote to read from when the cache lacks the data")
def _load(args: Any) -> Any:
    """A DataFrame of a version, without touching the workspace: ``df = %dataset load NAME@v2``
    (a folder of other files than tables: a read-only path to them)."""
    from .. import datasets

    return datasets.load(args.ref, remote=args.remote)


@magic_arguments(name="dataset checkout")
@argument("ref", help="the version to put back in the workspace")
@argument("--force", "-f", action="store_true", help="drop workspace changes not yet added")
def _checkout(args: Any) -> Any:
    """Put a version's file or folder back in the workspace."""
    from .. import datasets

    version = datasets.checkout(args.ref, force=args.force)
    print(f"{version.path} is now {version.ref}")
    return version


def _transfer(direction: str, args: Any) -> int:
    from .. import datasets

    func = datasets.push if direction == "push" else datasets.pull
    count = func(args.refs or None, remote=args.remote)
    print(
        f"{direction.capitalize()}ed {count} object{'s' if count != 1 else ''}"
        + (" (the rest were already there)" if direction == "push" else "")
    )
    return count


@magic_arguments(name="dataset push")
@argument("refs", nargs="*", help="names or NAME@vN (default: every version)")
@argument("--remote", "-r", help="DVC remote (default: the project's default remote)")
def _push(args: Any) -> Any:
    """Upload versions' data to a DVC remote, with a progress bar."""
    return _transfer("push", args)


@magic_arguments(name="dataset pull")
@argument("refs", nargs="*", help="names or NAME@vN (default: every version)")
@argument("--remote", "-r", help="DVC remote (default: the project's default remote)")
def _pull(args: Any) -> Any:
    """Download versions' data from a DVC remote into the cache, with a progress bar."""
    return _transfer("pull", args)


@magic_arguments(name="dataset remote")
@argument("action", nargs="?", choices=["list", "add"], default="list", help="list or add")
@argument("name", nargs="?", help="remote name (add)")
@argument("url", nargs="?", help="a folder, s3://bucket/path, ... (add)")
@argument("--default", "-d", action="store_true", help="make it the default remote (add)")
def _remote(args: Any) -> Any:
    """Show the DVC remotes, or add one: ``%dataset remote add NAME URL [--default]``."""
    from .. import datasets

    if args.action == "add":
        if not (args.name and args.url):
            from IPython.core.error import UsageError

            raise UsageError("usage: %dataset remote add NAME URL [--default]")
        datasets.add_remote(args.name, args.url, default=args.default)
    return datasets.remotes()


SUBCOMMANDS = {
    "init": _init,
    "add": _add,
    "list": _list,
    "show": _show,
    "diff": _diff,
    "load": _load,
    "checkout": _checkout,
    "push": _push,
    "pull": _pull,
    "remote": _remote,
}

WRITES = {"init", "add", "checkout", "push", "pull", "remote"}


@magics_class
class DatasetMagics(Magics):
    @line_magic
    def dataset(self, line: str) -> Any:
        """Data versions on git + DVC: ``%dataset SUBCOMMAND [--help]``.

        init, add, list, show, diff, load, checkout, push, pull, remote.
        """
        return run_subcommand("dataset", SUBCOMMANDS, line, writes=WRITES)
