"""The sidebar's REST API listing 10,000 runs, against MLflow's own REST search, side by side.

    .venv/bin/python benchmarks/bench_sidebar.py [--runs 10000] [--repeat 10]

Then the Compare view's table for 3 and 100 of those runs, against one MLflow runs/get per run.

A project with ``--runs`` runs (one real run cloned in SQL, as bench_tracking does); a Jupyter
server with the extension and an ``mlflow server`` on the same store, both on 127.0.0.1. Each is
asked for the first page (100 and 500 runs, newest first) ``--repeat`` times after a warm-up;
medians are printed with the ratio. Target: our first page under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_tracking  # noqa: E402 - the same project set-up and run cloning

from mlops_jupyter.netutil import kill_group, pick_port, wait_http  # noqa: E402

bench_tracking.WORK = Path(__file__).parent / ".work" / "sidebar"
TOKEN = "bench"


def timed(call, repeat: int) -> float:
    call()  # warm-up: imports, caches, connections
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def fetch(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=120) as r:
        return json.loads(r.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    root = bench_tracking.fresh_project()
    experiment = bench_tracking.make_runs(args.runs)
    bin_dir = Path(sys.executable).parent
    ours_port, theirs_port = pick_port(None, 8950), pick_port(None, 8960)
    servers = [
        subprocess.Popen(
            [bin_dir / "jupyter", "server", "--no-browser", f"--port={ours_port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
             f"--ServerApp.root_dir={root}", "--allow-root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ),
        subprocess.Popen(
            [bin_dir / "mlflow", "server", "--host", "127.0.0.1", "--port", str(theirs_port),
             "--backend-store-uri", f"sqlite:///{root / '.mlops' / 'mlflow.db'}", "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"),
        ),
    ]  # fmt: skip
    try:
        ours = f"http://127.0.0.1:{ours_port}/mlops-jupyter/api/v1/runs"
        theirs = f"http://127.0.0.1:{theirs_port}/api/2.0/mlflow/runs/search"
        wait_http(f"http://127.0.0.1:{ours_port}/api/status?token={TOKEN}", 60)
        wait_http(f"http://127.0.0.1:{theirs_port}/health", 120)
        for size in (100, 500):
            page = fetch(f"{ours}?max_results={size}")
            assert len(page["runs"]) == size and page["next_page_token"]
            mine = timed(lambda s=size: fetch(f"{ours}?max_results={s}"), args.repeat)
            search = {"experiment_ids": [experiment], "max_results": size,
                      "order_by": ["attributes.start_time DESC"]}  # fmt: skip
            assert len(fetch(theirs, search)["runs"]) == size
            other = timed(lambda b=search: fetch(theirs, b), args.repeat)
            print(
                f"first page of {size} runs out of {args.runs:,}: sidebar API {mine:.0f} ms "
                f"(target < 300 ms) vs MLflow REST runs/search {other:.0f} ms: "
                f"ratio {mine / other:.2f}"
            )
        # the Compare view's table: runs chosen in the list, side by side
        listed = [r["id"] for r in fetch(f"{ours}?max_results=100")["runs"]]
        get = f"http://127.0.0.1:{theirs_port}/api/2.0/mlflow/runs/get?run_id="
        for count in (3, 100):
            chosen = listed[:count]
            compare = f"{ours.removesuffix('/runs')}/compare?runs={','.join(chosen)}"
            assert len(fetch(compare)["runs"]) == count
            mine = timed(lambda u=compare: fetch(u), args.repeat)
            other = timed(lambda c=chosen: [fetch(get + r) for r in c], args.repeat)
            print(
                f"compare {count} runs out of {args.runs:,}: sidebar API {mine:.0f} ms "
                f"(target < 300 ms) vs MLflow REST runs/get per run {other:.0f} ms: "
                f"ratio {mine / other:.2f}"
            )
    finally:
        for server in servers:
            kill_group(server.pid)


if __name__ == "__main__":
    main()
