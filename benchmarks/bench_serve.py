"""Serving against ``mlflow models serve`` of the same model, side by side; prints ratios.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 10] [--workers 2]

Needs ``wrk`` (Debian: ``apt-get install wrk``) as the load generator, in its own process on
127.0.0.1. Servers, each with the same number of workers:

- ours: ``serving.start`` with input validation and the prediction log on (as shipped),
- ours with the prediction log off (what the log costs),
- ``mlflow models serve`` of the same registered model,
- a constant JSON response on the same HTTP stack (uvicorn + a bare ASGI app): the ceiling.

Loads: one-row ``dataframe_split`` requests at 8 and 64 connections (throughput, p50, p99), and
a 1,000-row request (rows per second). Then: reading a day of traffic (1,000,000 logged
requests) from the prediction log into a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "serve"
CONSTANT_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"predictions": [1]}'})
"""


def setup() -> tuple[object, list[str]]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops_jupyter import tracking

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=WORK, check=True)
    os.chdir(WORK)
    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(10)]
    X = pd.DataFrame(rng.normal(size=(2000, 10)), columns=columns)
    y = (X.f0 + X.f1 > 0).astype(int)
    with tracking.run(name="bench") as run:
        tracking.log_model(LogisticRegression().fit(X, y), input_example=X.head(3))
    tracking.register(run.id, "bench", alias="champion")
    return X, columns


def body(X: object, rows: int) -> str:
    frame = X.head(rows)  # type: ignore[attr-defined]
    return json.dumps(
        {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
    )


def wrk(url: str, payload: str, connections: int, seconds: int) -> dict[str, float]:
    script = WORK / f"post-{len(payload)}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(payload)}\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = {}
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        latency[pct] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    return {
        "rps": rps,
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def wait(url: str, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} never answered")


def start_mlflow(port: int, workers: int) -> subprocess.Popen[bytes]:
    from mlops_jupyter.tracking import store
    from mlops_jupyter.workspace import Workspace

    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        MLFLOW_TRACKING_URI=store.tracking_uri(Workspace.find(WORK)),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/bench/1", "--port",
         str(port), "--workers", str(workers), "--env-manager", "local", "--host", "127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait(f"http://127.0.0.1:{port}/ping")
    return proc


def start_constant(port: int, workers: int) -> subprocess.Popen[bytes]:
    (WORK / "constant_app.py").write_text(CONSTANT_APP)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "constant_app:app", "--port", str(port), "--workers",
         str(workers), "--log-level", "warning", "--no-access-log"],
        cwd=WORK, start_new_session=True,
    )  # fmt: skip
    wait(f"http://127.0.0.1:{port}/")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def bench_log_read(requests: int) -> None:
    import numpy as np

    from mlops_jupyter.serving import predlog

    folder = WORK / "log-read"
    shutil.rmtree(folder, ignore_errors=True)
    log = predlog.PredictionLog(folder)
    values = np.random.default_rng(0).normal(size=(requests, 10)).round(6).tolist()
    started = time.perf_counter()
    day = 86_400 / requests
    for i, row in enumerate(values):
        log.write({
            "id": f"{i:032x}", "ts": 1.7e9 + i * day, "model": "bench", "version": "1",
            "protocol": "mlflow", "status": 200, "latency_ms": 0.8,
            "inputs": {f"f{j}": [v] for j, v in enumerate(row)}, "outputs": [i % 2],
        })  # fmt: skip
    log.close()
    wrote = time.perf_counter() - started
    size = sum(p.stat().st_size for p in predlog.files(folder)) / 1e6
    started = time.perf_counter()
    table = predlog.read(folder)
    read = time.perf_counter() - started
    print(
        f"prediction log: {requests:,} requests ({size:,.0f} MB, written in {wrote:.1f} s) read "
        f"into a table of {table.num_rows:,} rows in {read:.2f} s (target: a day under 5 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-requests", type=int, default=1_000_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_serve needs wrk: apt-get install wrk")
    from mlops_jupyter import serving

    X, _ = setup()
    one, thousand = body(X, 1), body(X, 1000)
    results: dict[str, dict[str, dict[str, float]]] = {}

    def measure(label: str, url: str) -> None:
        wrk(url, one, 8, 2)  # warm up
        results[label] = {
            "c8": wrk(url, one, 8, args.seconds),
            "c64": wrk(url, one, 64, args.seconds),
            "rows": wrk(url, thousand, 4, args.seconds),
        }
        r = results[label]
        print(
            f"{label:<28} c8 {r['c8']['rps']:>8,.0f} req/s p50 {r['c8']['p50']:.2f} ms "
            f"p99 {r['c8']['p99']:.2f} ms | c64 {r['c64']['rps']:>8,.0f} req/s "
            f"p99 {r['c64']['p99']:.2f} ms | 1,000-row {r['rows']['rps'] * 1000:>10,.0f} rows/s"
            f" | non-2xx {r['c8']['errors'] + r['c64']['errors']:.0f}",
            flush=True,
        )

    ours = serving.start("bench@champion", name="ours", workers=args.workers)
    measure("ours (validation + log)", f"{ours.url}/invocations")
    serving.stop("ours")
    bare = serving.start(
        "bench@champion", name="nolog", workers=args.workers, log_predictions=False
    )
    measure("ours, prediction log off", f"{bare.url}/invocations")
    serving.stop("nolog")
    proc = start_mlflow(5301, args.workers)
    measure("mlflow models serve", "http://127.0.0.1:5301/invocations")
    stop(proc)
    proc = start_constant(5302, args.workers)
    measure("constant response (ceiling)", "http://127.0.0.1:5302/")
    stop(proc)

    o, m, n, c = (
        results[k]
        for k in (
            "ours (validation + log)",
            "mlflow models serve",
            "ours, prediction log off",
            "constant response (ceiling)",
        )
    )
    for conns in ("c8", "c64"):
        print(
            f"{conns}: throughput {o[conns]['rps'] / m[conns]['rps']:.1f}x mlflow's "
            "(target >= 10x), "
            f"p99 {o[conns]['p99'] / m[conns]['p99']:.3f} of mlflow's (target <= 0.2), "
            f"log costs {1 - o[conns]['rps'] / n[conns]['rps']:.1%} (target <= 15%), "
            f"{o[conns]['rps'] / c[conns]['rps']:.0%} of the constant-response ceiling"
        )
    ratio = o["rows"]["rps"] / m["rows"]["rps"]
    print(f"1,000-row requests: {ratio:.1f}x mlflow's rows/s (target >= 1x)")
    bench_log_read(args.log_requests)


if __name__ == "__main__":
    main()
