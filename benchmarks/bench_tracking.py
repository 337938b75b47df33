"""Tracking against plain MLflow on the same embedded store, side by side; prints ratios.

    .venv/bin/python benchmarks/bench_tracking.py [--repeat 30] [--points 10000] [--runs 10000]

1. ``%%track`` on an empty cell against a bare ``with mlflow.start_run():`` cell logging the
   same things (parameters, tags, code, history, requirements), both in one IPython shell.
2. 10,000 metric points from a loop: ``run.log_metric`` (batched) against ``mlflow.log_metric``
   per point, and every point counted back.
3. ``%track runs`` over an experiment of 10,000 runs (first page, table rendered) against
   ``mlflow.search_runs`` of that experiment.
4. ``reproduce`` of a notebook run training on a dataset version (seeded noise included): each
   metric against the original, digit for digit, and the time against the original run's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "tracking"
os.environ.update(
    {
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@localhost",
        "DVC_NO_ANALYTICS": "1",
    }
)


def fresh_project() -> Path:
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=WORK, check=True)
    (WORK / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "README.md"], cwd=WORK, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=WORK, check=True)
    os.chdir(WORK)
    return WORK


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_cell_overhead(repeat: int) -> tuple[float, float]:
    from IPython.core.interactiveshell import InteractiveShell

    from mlops_jupyter.tracking import environment

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlops_jupyter")
    shell.run_cell("%%track -e bench -p a=1 -p b=2\npass", store_history=True)  # warm up
    shell.user_ns["REQS"] = environment.requirements()
    shell.user_ns["GIT"] = environment.git_state(WORK)
    bare = (
        "import mlflow, json\n"
        "with mlflow.start_run(experiment_id=EXP, tags={'mlflow.source.git.commit': "
        "GIT['commit'], 'mlops.git.dirty': GIT['dirty'], 'mlops.seed': '1', "
        "'mlops.python': '3', 'mlops.kind': 'cell', 'mlops.cwd': '.'}):\n"
        "    mlflow.log_params({'a': 1, 'b': 2})\n"
        "    mlflow.set_tag('mlops.params', json.dumps({'a': 1, 'b': 2}))\n"
        "    mlflow.log_text('pass', 'code/cell.py')\n"
        "    mlflow.log_text('[]', 'code/history.json')\n"
        "    mlflow.log_text(REQS, 'environment/requirements.txt')\n"
        "    mlflow.log_text('{}', 'environment/python.json')\n"
    )
    import mlflow

    shell.user_ns["EXP"] = mlflow.get_experiment_by_name("bench").experiment_id
    shell.run_cell(bare)
    ours, theirs = [], []
    for _ in range(repeat):  # interleaved: the machine's noise hits both alike
        started = time.perf_counter()
        shell.run_cell("%%track -e bench -p a=1 -p b=2\npass", store_history=True)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = shell.run_cell(bare)
        theirs.append(time.perf_counter() - started)
        assert result.success
    return median_ms(ours), median_ms(theirs)


def bench_metrics(points: int) -> tuple[float, float]:
    import mlflow

    from mlops_jupyter import tracking

    client = tracking.client()
    started = time.perf_counter()
    with tracking.run(experiment="bench-metrics", name="ours") as run:
        for step in range(points):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    ours = time.perf_counter() - started
    assert len(client.get_metric_history(run.id, "loss")) == points, "points lost"

    started = time.perf_counter()
    with mlflow.start_run(experiment_id=run.experiment_id, run_name="mlflow") as bare:
        for step in range(points):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    theirs = time.perf_counter() - started
    assert len(client.get_metric_history(bare.info.run_id, "loss")) == points
    return ours, theirs


def make_runs(count: int) -> str:
    """An experiment of ``count`` runs: one real run, its rows cloned in SQL (fast to set up)."""
    import mlflow

    from mlops_jupyter import tracking

    with tracking.run(experiment="bench-big", name="seed-run", params={"alpha": 0.5}) as run:
        mlflow.log_metrics({"rmse": 1.0, "mae": 0.5})
    db = sqlite3.connect(WORK / ".mlops" / "mlflow.db")
    tables = [
        t
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if "run_uuid" in [c[1] for c in db.execute(f"PRAGMA table_info({t})")]
    ]
    for _ in range(count - 1):
        new = uuid.uuid4().hex
        for table in tables:
            cols = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            picked = ", ".join("?" if c == "run_uuid" else c for c in cols)
            db.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {picked} FROM {table} "
                "WHERE run_uuid = ?",
                (new, run.id),
            )
    db.commit()
    db.close()
    return run.experiment_id


def bench_runs_page(experiment_id: str) -> tuple[float, float, int]:
    import mlflow

    from mlops_jupyter import tracking
    from mlops_jupyter.views.table import to_html

    started = time.perf_counter()
    frame = tracking.runs("bench-big", max_results=100)
    to_html(frame)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    everything = mlflow.search_runs(experiment_ids=[experiment_id], max_results=100000)
    theirs = time.perf_counter() - started
    return ours, theirs, len(everything)


TRAIN = """\
import mlflow, numpy as np
from sklearn.linear_model import Ridge
from mlops_jupyter import datasets
df = datasets.load("temps")
X = np.column_stack([df["temp"].shift(k).bfill() for k in (1, 2, 3)])
y = df["temp"] + np.random.normal(scale=0.5, size=len(df))
model = Ridge(alpha=alpha).fit(X, y)
mlflow.log_metric("rmse", float(((model.predict(X) - y) ** 2).mean() ** 0.5))
mlflow.log_metric("coef0", float(model.coef_[0]))
"""


def bench_reproduce() -> None:
    import nbformat
    import vega_datasets

    from mlops_jupyter import datasets, tracking

    data = WORK / "data" / "temps.csv"
    data.parent.mkdir(exist_ok=True)
    shutil.copy(Path(vega_datasets.__file__).parent / "_data" / "seattle-temps.csv", data)
    datasets.add(data, name="temps")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("alpha = 1.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(TRAIN)]
    nbformat.write(nb, WORK / "train.ipynb")
    started = time.perf_counter()
    original = tracking.run_notebook(WORK / "train.ipynb", {"alpha": 0.5}, experiment="repro")
    first = time.perf_counter() - started
    started = time.perf_counter()
    result = tracking.reproduce(original.run_id)
    again = time.perf_counter() - started
    for _, row in result.metrics.iterrows():
        print(
            f"reproduce: {row['metric']} {row['original']!r} vs {row['reproduced']!r} "
            f"difference {row['difference']!r}"
        )
    print(f"reproduce: {result.verdict()}; {again:.1f} s vs the original run's {first:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=10000)
    args = parser.parse_args()
    fresh_project()
    print(f"python {sys.version.split()[0]}, project {WORK}")

    ours, theirs = bench_cell_overhead(args.repeat)
    print(
        f"%%track empty cell: {ours:.1f} ms vs bare mlflow.start_run logging the same "
        f"{theirs:.1f} ms  ratio {ours / theirs:.2f} (target <= 1.2, < 150 ms)"
    )
    ours, theirs = bench_metrics(args.points)
    print(
        f"{args.points:,} metric points: run.log_metric {ours:.2f} s vs mlflow.log_metric "
        f"{theirs:.2f} s  speed-up {theirs / ours:.1f}x (target >= 10x), none lost"
    )
    started = time.perf_counter()
    experiment = make_runs(args.runs)
    print(f"(made {args.runs:,} runs in {time.perf_counter() - started:.1f} s)")
    ours, theirs, count = bench_runs_page(experiment)
    print(
        f"%track runs over {count:,} runs, first page: {ours:.3f} s vs mlflow.search_runs "
        f"{theirs:.2f} s  ratio {ours / theirs:.3f} (target < 1 s)"
    )
    bench_reproduce()


if __name__ == "__main__":
    main()
