"""``make demo``: run the demo notebooks top to bottom in a fresh project, and sum up.

The project is made under ``build/demo`` (recreated each run); each notebook runs in a real
kernel with progress shown cell by cell, and the executed copy is kept beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DEMO_NOTEBOOKS = ["02-time-series-versions.ipynb"]


def run_notebook(source: Path, project: Path, progress: bool = True, timeout: int = 600) -> Any:
    """Execute ``source`` in a fresh kernel with ``project`` as its working directory.

    Returns the executed notebook (also written into ``project``). Raises ``CellExecutionError``
    naming the failing cell.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(project)}},
        # The kernel is local and private to this run: spare the user its transport warning.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    with client.setup_kernel(env=env, cwd=str(project)):
        for number, (index, cell) in enumerate(code_cells, 1):
            if progress:
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                print(f"  [{number:>2}/{len(code_cells)}] {first[:70]}", flush=True)
            client.execute_cell(cell, index)
    nbformat.write(nb, project / source.name)
    return nb


def make_project(folder: Path) -> Path:
    """A fresh, empty git repository at ``folder`` (anything there before is removed)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True)
    for key, value in (("user.name", "mlops-jupyter demo"), ("user.email", "demo@localhost")):
        if subprocess.run(["git", "config", key], cwd=folder, capture_output=True).returncode:
            subprocess.run(["git", "config", key, value], cwd=folder, check=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_jupyter.demo", description=__doc__)
    parser.add_argument("--notebooks", default="notebooks", help="folder of the demo notebooks")
    parser.add_argument("--project", default="build/demo", help="where to make the demo project")
    args = parser.parse_args(argv)

    from nbclient.exceptions import CellExecutionError

    project = make_project(Path(args.project).resolve())
    print(f"Demo project: {project}")
    started = time.perf_counter()
    for name in DEMO_NOTEBOOKS:
        print(f"Running notebooks/{name}")
        try:
            run_notebook(Path(args.notebooks) / name, project)
        except CellExecutionError as exc:
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            print(f"FAILED in notebooks/{name}: {lines[-1] if lines else exc}", file=sys.stderr)
            return 1

    from . import datasets, tracking

    print(f"\nDone in {time.perf_counter() - started:.0f} s. Data versions:")
    listing = datasets.versions(project=project)
    print(
        listing[["dataset", "version", "rows", "columns", "size", "message"]].to_string(index=False)
    )
    runs = tracking.runs(project=project)
    shown = [
        c for c in ("run", "name", "status", "data", "params.alpha", "metrics.rmse") if c in runs
    ]
    print(f"\nRuns (MLflow, {len(runs)}):\n" + runs[shown].to_string(index=False))
    print(
        f"\nExecuted notebooks are in {project}. Look around with plain git, DVC and MLflow:\n"
        f"  cd {project} && git tag && git log --oneline && {sys.executable} -m dvc status\n"
        f"  {sys.executable} -m mlflow ui --backend-store-uri "
        f"sqlite:///{project}/.mlops/mlflow.db   (or %track ui in a notebook)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
