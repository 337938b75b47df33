"""``make demo``: run the demo notebooks top to bottom in a fresh project, and sum up.

The project is made under ``build/demo`` (recreated each run, after stopping what the previous
demo left running); each notebook runs in a real kernel with progress shown cell by cell, and the
executed copy is kept in the project. The endpoints and dashboards stay up for a look around
(``make lab``) until ``make stop``.
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

DEMO_NOTEBOOKS = [
    "01-quickstart.ipynb",
    "02-time-series-versions.ipynb",
    "03-drift-and-retrain.ipynb",
]
HELPERS = ["retrain-weather.ipynb"]  # run by notebook 03's watch loop, not by the demo itself


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
    try:
        with client.setup_kernel(env=env, cwd=str(project)):
            for number, (index, cell) in enumerate(code_cells, 1):
                if progress:
                    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                    print(f"  [{number:>2}/{len(code_cells)}] {first[:64]:<64}", end="", flush=True)
                started = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                finally:
                    if progress:
                        print(f" {time.perf_counter() - started:5.1f} s", flush=True)
    finally:  # a failed cell too: the notebook holds its traceback
        nbformat.write(nb, project / source.name)
    return nb


def stop_all(project: Path) -> list[str]:
    """Stop the endpoints and dashboards running in ``project``; what was stopped."""
    from .monitoring import publish
    from .serving import endpoints

    if not (project / ".git").exists():
        return []
    stopped = [str(publish.stop(d.endpoint, project)) for d in publish.dashboards(project)]
    stopped += [str(endpoints.stop(e.name, project)) for e in endpoints.endpoints(project)]
    return stopped


def make_project(folder: Path, notebooks: Path | None = None) -> Path:
    """A fresh git repository at ``folder`` (what was there is stopped and removed), with the
    demo notebooks copied in when ``notebooks`` is given."""
    if folder.exists():
        stop_all(folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True)
    for key, value in (("user.name", "mlops-jupyter demo"), ("user.email", "demo@localhost")):
        if subprocess.run(["git", "config", key], cwd=folder, capture_output=True).returncode:
            subprocess.run(["git", "config", key, value], cwd=folder, check=True)
    if notebooks is not None:
        for name in (*DEMO_NOTEBOOKS, *HELPERS):
            shutil.copy(notebooks / name, folder / name)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_jupyter.demo", description=__doc__)
    parser.add_argument("--notebooks", default="notebooks", help="folder of the demo notebooks")
    parser.add_argument("--project", default="build/demo", help="where to make the demo project")
    parser.add_argument(
        "--prepare", action="store_true", help="only make the project (notebooks not run)"
    )
    parser.add_argument("--stop", action="store_true", help="stop what the demo left running")
    args = parser.parse_args(argv)
    folder = Path(args.project).resolve()
    if args.stop:
        print("\n".join(f"stopped {s}" for s in stop_all(folder)) or "nothing was running")
        return 0
    project = make_project(folder, Path(args.notebooks))
    print(f"Demo project: {project}")
    if args.prepare:
        return 0

    from nbclient.exceptions import CellExecutionError

    started = time.perf_counter()
    for name in DEMO_NOTEBOOKS:
        print(f"Running notebooks/{name}")
        try:
            run_notebook(Path(args.notebooks) / name, project)
        except CellExecutionError as exc:
            # nbclient's message ends with a rule of dashes: the cell's own error is ename/evalue
            error = f"{exc.ename}: {exc.evalue}" if exc.ename else str(exc).strip()
            print(f"FAILED in notebooks/{name}: {error}", file=sys.stderr)
            print(f"(the executed notebook, with the cell's traceback: {project / name})",
                  file=sys.stderr)  # fmt: skip
            return 1

    summarize(project, time.perf_counter() - started)
    return 0


def summarize(project: Path, seconds: float) -> None:
    """Data versions, runs, endpoints, dashboards and scorecards; what to open next."""
    from . import datasets, monitoring, serving, tracking
    from .monitoring import publish
    from .serving import endpoints

    print(f"\nDone in {seconds:.0f} s. Data versions:")
    listing = datasets.versions(project=project)
    print(listing[["dataset", "version", "rows", "size", "message"]].to_string(index=False))
    frames = [tracking.runs(e, project=project).assign(experiment=e)
              for e in ("quickstart", "windows", "retrain")]  # fmt: skip
    import pandas as pd

    runs = pd.concat(frames, ignore_index=True)
    shown = [c for c in ("experiment", "name", "status", "data", "metrics.rmse") if c in runs]
    print(f"\nRuns (MLflow, {len(runs)}):\n" + runs[shown].to_string(index=False))
    print("\nEndpoints:")
    print(serving.status(project)[["endpoint", "model", "version", "url", "requests"]]
          .to_string(index=False))  # fmt: skip
    for board in publish.dashboards(project):
        print(f"Dashboard of {board.endpoint}: {board.url}")
    for endpoint in endpoints.endpoints(project):
        card = monitoring.scorecard(endpoint.name, project=project)
        print(f"\n{card}")
    print(
        f"\nThe executed notebooks are in {project}. Next:\n"
        "  make lab    JupyterLab on the demo project, with the mlops sidebar\n"
        "  make stop   end the endpoints and dashboards the demo started\n"
        f"Plain git, DVC and MLflow see it all: cd {project} && git tag && dvc status"
    )


if __name__ == "__main__":
    sys.exit(main())
