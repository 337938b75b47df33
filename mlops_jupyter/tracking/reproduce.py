"""Reproduce a run: its recorded code, parameters, seed and data versions, in a clean kernel.

A notebook run is executed again from its snapshot; a cell run replays the cells that ran
before it in its kernel (read-only: writes and shell commands are skipped), then runs the cell
as a new tracked run. Either runs in a scratch git worktree of the run's commit (sharing the DVC
cache and the MLflow store), so whatever the code writes never touches the workspace. Every
dataset load returns the version the original run read, fetched by hash from DVC's cache or
remote. The new run is tagged ``mlops.reproduces`` and each metric is compared with the
original within a tolerance.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import git as gitcmd
from ..errors import MlopsError
from ..workspace import Workspace
from . import lineage, names, notebooks, store

TAG = "mlops.reproduces"
REPLAY_SETUP = """\
import os
os.environ["MLOPS_JUPYTER_REPLAY"] = "1"
_ip = get_ipython()
_ip.system = lambda *a, **k: print("(reproducing: shell command skipped)")
_ip.getoutput = lambda *a, **k: []
_ip.run_line_magic("load_ext", "mlops_jupyter")
"""


@dataclass
class Reproduction:
    """The original run, the new one, each metric side by side, and the verdict."""

    original: Any
    new: Any
    metrics: Any  # DataFrame: metric, original, reproduced, difference, within
    rtol: float

    @property
    def reproduced(self) -> bool:
        return bool(len(self.metrics)) and bool(self.metrics["within"].all())

    @property
    def differing(self) -> list[str]:
        return [str(m) for m in self.metrics.loc[~self.metrics["within"], "metric"]]

    def verdict(self) -> str:
        new = f"{self.new.info.run_name} ({self.new.info.run_id[:8]})"
        if self.new.info.status != "FINISHED":
            error = self.new.data.tags.get("mlops.error", self.new.info.status.lower())
            return f"not reproduced: the new run {new} failed: {error}"
        if not len(self.metrics):
            return f"not reproduced: the original run logged no metrics to compare (new run {new})"
        if self.reproduced:
            return f"reproduced: {len(self.metrics)} metrics within rtol={self.rtol:g} (run {new})"
        said = f"not reproduced: {', '.join(self.differing)} differ (run {new})"
        why = self.original.data.tags.get("mlops.cells.why")
        if why:  # the likely cause: state the notebook read top to bottom does not give
            said += f"; the original run was non-linear ({why}), so it may not follow from the code"
        return said

    def __str__(self) -> str:
        table = self.metrics.to_string(index=False) if len(self.metrics) else "(no metrics)"
        return f"{table}\n{self.verdict()}"

    def _repr_html_(self) -> str:
        import html

        return self.metrics.to_html(index=False) + f"<p><b>{html.escape(self.verdict())}</b></p>"


def reproduce(
    ref: str, rtol: float = 1e-9, project: str | os.PathLike[str] | None = None
) -> Reproduction:
    """Run ``ref`` again as recorded, as a new linked run, and compare the metrics."""
    ws = Workspace.find(project)
    client = store.connect(ws)
    original = names.find_run(client, ref)
    tags = original.data.tags
    kind = tags.get("mlops.kind")
    label = f"{original.info.run_name} ({original.info.run_id[:8]})"
    if kind not in ("cell", "notebook"):
        raise MlopsError(
            f"run {label} was not recorded by %%track or a notebook run, so its code is unknown; "
            "only those runs can be reproduced"
        )
    pins = lineage.read_by_run(tags)
    _check_data(ws, pins, label)
    if tags.get("mlops.git.dirty") == "true":
        print(
            f"warning: run {label} was recorded from a git tree with uncommitted changes; "
            "reproducing from the run's own snapshot of its code",
            file=sys.stderr,
        )
    work = ws.state_dir / "reproduce" / original.info.run_id
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with notebooks.environ({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}):
        code = Path(client.download_artifacts(original.info.run_id, "code", str(work)))
    with _scratch_tree(ws, tags.get("mlflow.source.git.commit"), work / "tree") as tree:
        return _rerun(ws, client, original, code, tree, rtol)


@contextlib.contextmanager
def _scratch_tree(ws: Workspace, commit: str | None, path: Path) -> Iterator[Path]:
    """A detached git worktree of ``commit`` that uses the project's DVC cache."""
    from ..datasets import dvcstore

    rev = commit if commit and gitcmd.resolve(ws.root, commit) else "HEAD"
    gitcmd.git(ws.root, "worktree", "add", "--detach", "-f", str(path), rev)
    try:
        if (path / ".dvc").is_dir():
            cache = dvcstore.cache_root(ws)
            (path / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {cache}\n")
        yield path
    finally:
        gitcmd.git(ws.root, "worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
        gitcmd.git(ws.root, "worktree", "prune", check=False)


def _rerun(
    ws: Workspace, client: Any, original: Any, code: Path, tree: Path, rtol: float
) -> Reproduction:
    tags = original.data.tags
    kind = tags.get("mlops.kind")
    label = f"{original.info.run_name} ({original.info.run_id[:8]})"
    pins = lineage.read_by_run(tags)
    cwd = tree / tags.get("mlops.cwd", ".")
    params = json.loads(tags.get("mlops.params", "{}"))
    seed = int(tags["mlops.seed"]) if "mlops.seed" in tags else None
    env = {lineage.PINS_ENV: json.dumps(pins), "MLFLOW_TRACKING_URI": store.tracking_uri(ws)}
    experiment = client.get_experiment(original.info.experiment_id).name
    name = f"{original.info.run_name}-reproduced"
    new_tags = {TAG: original.info.run_id}
    if kind == "notebook":
        snapshot = next(code.glob("*.ipynb"), None)
        if snapshot is None:
            raise MlopsError(f"run {label} kept no notebook snapshot; it cannot be reproduced")
        workdir = (tree / tags["mlops.notebook"]).parent if "mlops.notebook" in tags else cwd
        result = notebooks.run_notebook(
            snapshot,
            params,
            experiment=experiment,
            name=name,
            seed=seed,
            tags=new_tags,
            extra_env=env,
            cwd=workdir if workdir.is_dir() else tree,
            raise_on_failure=False,
            project=ws.root,
        )
        new_id = result.run_id
    else:
        new_id = _replay_cell(
            tree, client, code, cwd, params, seed, experiment, name, new_tags, env
        )
    new = client.get_run(new_id)
    return Reproduction(original, new, _compare(original, new, rtol), rtol)


def _check_data(ws: Workspace, pins: list[dict[str, Any]], label: str) -> None:
    from ..datasets import dvcstore

    for pin in pins:
        try:
            dvcstore.fetch(ws, pin["md5"], pin["ref"])
        except MlopsError as exc:
            raise MlopsError(f"cannot reproduce run {label}: {exc}") from None


def _replay_cell(
    tree: Path,
    client: Any,
    code: Path,
    cwd: Path,
    params: dict[str, Any],
    seed: int | None,
    experiment: str,
    name: str,
    tags: dict[str, str],
    env: dict[str, str],
) -> str:
    import nbformat
    import papermill as pm

    cell = (code / "cell.py").read_text(encoding="utf-8")
    history_file = code / "history.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    options = ["-e", experiment, "-n", name]
    for key, value in params.items():
        options += ["-p", f"{key}={value}"]
    for key, value in tags.items():
        options += ["-t", f"{key}={value}"]
    if seed is not None:
        options += ["--seed", str(seed)]
    line = " ".join(shlex.quote(o) for o in options)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells.append(nbformat.v4.new_code_cell(REPLAY_SETUP))
    for source in history:
        replayed = nbformat.v4.new_code_cell(source)
        replayed.metadata["tags"] = ["raises-exception"]  # an earlier error does not stop us
        nb.cells.append(replayed)
    # Replayed cells that log with mlflow log into a scratch store; the run itself, into the real.
    real = env["MLFLOW_TRACKING_URI"]
    env = {**env, "MLFLOW_TRACKING_URI": "sqlite:///" + str(code.parent / "replay-scratch.db")}
    final = (
        "import os, sys\n"
        'if "mlflow" in sys.modules:  # runs the replay started belong to the scratch store\n'
        "    import mlflow\n"
        "    while mlflow.active_run():\n"
        "        mlflow.end_run()\n"
        f"    mlflow.set_tracking_uri({real!r})\n"
        'os.environ.pop("MLOPS_JUPYTER_REPLAY", None)\n'
        f'os.environ["MLFLOW_TRACKING_URI"] = {real!r}\n'
    )
    nb.cells.append(nbformat.v4.new_code_cell(final))
    nb.cells.append(nbformat.v4.new_code_cell(f"%%track {line}\n{cell}"))
    source = code.parent / "replay.ipynb"
    nbformat.write(nb, source)
    try:
        with notebooks.environ(env):
            pm.execute_notebook(
                str(source),
                str(code.parent / "replayed.ipynb"),
                cwd=str(cwd if cwd.is_dir() else tree),
                progress_bar=False,
                kernel_name="python3",
                language="python",
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
    except pm.PapermillExecutionError as exc:
        if exc.cell_index < len(nb.cells) - 1:
            raise MlopsError(
                f"the replay failed before the run's cell: {exc.ename}: {exc.evalue}"
            ) from None
    found = client.search_runs(
        names.experiment_ids(client),
        f"tags.`{TAG}` = '{tags[TAG]}'",
        max_results=1,
        order_by=["start_time DESC"],
    )
    if not found:
        raise MlopsError("the replayed cell did not start a run; see " + str(code.parent))
    return str(found[0].info.run_id)


def _compare(original: Any, new: Any, rtol: float) -> Any:
    import pandas as pd

    rows = []
    for key, value in sorted(original.data.metrics.items()):
        got = new.data.metrics.get(key)
        diff = None if got is None else got - value
        within = got is not None and (
            math.isclose(got, value, rel_tol=rtol, abs_tol=rtol)
            or (math.isnan(got) and math.isnan(value))
        )
        rows.append(
            {
                "metric": key,
                "original": value,
                "reproduced": got,
                "difference": diff,
                "within": within,
            }
        )
    return pd.DataFrame(rows, columns=["metric", "original", "reproduced", "difference", "within"])
