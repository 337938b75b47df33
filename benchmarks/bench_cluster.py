"""Sweeps on a Dask cluster against local processes, and a TPE search against a grid; prints ratios.

    .venv/bin/python benchmarks/bench_cluster.py [--runs 16]

1. A sweep of 16 notebook runs (a 4 x 4 grid), 2 at a time: local worker processes against a Dask
   cluster of two workers on this machine (``dask scheduler`` + two ``dask worker`` processes, one
   thread each). Target: the cluster's overhead at most 10%.
2. The same budget of 16 runs: that grid against a TPE search (one trial at a time, as TPE learns
   from each), on the Branin function (minimum 0.397887): the best loss each found.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "cluster"
os.environ.update(
    {
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@localhost",
        "DVC_NO_ANALYTICS": "1",
    }
)
BRANIN = (
    "import math, mlflow\n"
    "b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)\n"
    "loss = (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10\n"
    "mlflow.log_metric('loss', loss)"
)


def fresh_project() -> tuple[Path, Path]:
    import nbformat

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=WORK, check=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x1 = 0.0\nx2 = 0.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(BRANIN)]
    path = WORK / "branin.ipynb"
    nbformat.write(nb, path)
    subprocess.run(["git", "add", "-A"], cwd=WORK, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=WORK, check=True)
    os.chdir(WORK)
    return WORK, path


def start_cluster(port: int) -> tuple[str, list[subprocess.Popen]]:
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # fmt: skip
    procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                "--host", "127.0.0.1"], **quiet) for _ in range(2)]  # fmt: skip
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="runs of each sweep (a square)")
    parser.add_argument("--port", type=int, default=18786)
    args = parser.parse_args()
    side = int(args.runs**0.5)
    root, nb = fresh_project()

    from mlops_jupyter import tracking
    from mlops_jupyter.tracking import search

    x1 = [-5 + 15 * i / (side - 1) for i in range(side)]
    x2 = [15 * i / (side - 1) for i in range(side)]
    grid = {"x1": x1, "x2": x2}
    tracking.run_notebook(nb, {"x1": 0.0, "x2": 0.0}, experiment="warm-up")  # caches, bytecode

    started = time.perf_counter()
    local = tracking.sweep(nb, grid, experiment="local", jobs=2, progress=False)
    local_s = time.perf_counter() - started

    address, procs = start_cluster(args.port)
    try:
        started = time.perf_counter()
        remote = tracking.sweep(nb, grid, experiment="dask", jobs=2, progress=False,
                                cluster=address)  # fmt: skip
        remote_s = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
    for name, results in (("local", local), ("dask", remote)):
        failed = [r for r in results if r.status != "FINISHED"]
        assert not failed, f"{name}: {failed[0]}"

    started = time.perf_counter()
    found = search.search(nb, search.parse_space(["x1=-5.0:10.0", "x2=0.0:15.0"]), side * side,
                          "loss", experiment="tpe", seed=0, progress=False)  # fmt: skip
    tpe_s = time.perf_counter() - started
    runs = tracking.runs("local")
    grid_best = float(runs["metrics.loss"].min())
    points = len(list(itertools.product(x1, x2)))

    print(f"sweep of {points} notebook runs, 2 at a time:")
    print(f"  local processes   {local_s:7.1f} s")
    print(f"  Dask, 2 workers   {remote_s:7.1f} s   overhead {remote_s / local_s - 1:+.1%} "
          "(target <= +10%)")  # fmt: skip
    print(f"best Branin loss in {points} runs (optimum 0.397887):")
    print(f"  grid {side}x{side}          {grid_best:.4f}")
    print(f"  TPE search        {found.best_value:.4f}   ({tpe_s:.1f} s, one trial at a time)")
    print(f"  ratio grid / TPE  {grid_best / found.best_value:.2f}x")


if __name__ == "__main__":
    main()
