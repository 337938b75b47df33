"""Serving against ``mlflow models serve`` of the same models, side by side; prints ratios.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 5] [--workers 2] [--models tree,pipeline]
    .venv/bin/python benchmarks/bench_serve.py --trials 9   # only what a trial costs, 9 rounds

Needs ``wrk`` (Debian: ``apt-get install wrk``) as the load generator, in its own process on
127.0.0.1. Models: a LogisticRegression (the compiled linear path), a
HistGradientBoostingRegressor, a Pipeline (OneHotEncoder on a string column +
HistGradientBoosting) and a plain Python ``pyfunc``. Servers, each with the same workers:

- ours: ``serving.start`` with input validation and the prediction log on (as shipped),
- ``mlflow models serve`` of the same registered model,
- a constant JSON response on the same HTTP stack (uvicorn + a bare ASGI app): the ceiling.

Loads: one-row ``dataframe_split`` requests at 1, 8 and 64 connections (throughput, p50, p99,
timeouts). For the linear model also: the prediction log off (what it costs) and a 1,000-row
request (rows per second); for the tree: a challenger on a 10% split and in shadow (what a
trial costs: three endpoints measured in turn, three rounds, medians); for the Pipeline:
batching off (what batching gives, measured the same way). First, in-process: a one-row call
of the tree and the Pipeline on our paths and on sklearn's / MLflow's, and a full garbage
collection. Then: reading a day of traffic (1,000,000 logged requests) from the log.
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


def setup() -> dict[str, object]:
    """The four models, registered as NAME@champion; each one's rows to send."""
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mlops_jupyter import tracking

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=WORK, check=True)
    os.chdir(WORK)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 10)), columns=[f"f{i}" for i in range(10)])
    y = X.f0 + X.f1 * 2 + rng.normal(size=2000)
    homes = X.assign(city=rng.choice(["Oslo", "Lima", "Pune", "Kobe"], 2000))
    encode = ColumnTransformer(
        [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
    )
    fitted = {
        "linear": (LogisticRegression().fit(X, (y > 0).astype(int)), X),
        "tree": (HistGradientBoostingRegressor(max_iter=100).fit(X, y), X),
        "pipeline": (
            Pipeline([("encode", encode), ("fit", HistGradientBoostingRegressor())]).fit(homes, y),
            homes,
        ),
    }
    rows = {}
    for name, (model, frame) in fitted.items():
        with tracking.run(name=name) as run:
            tracking.log_model(model, input_example=frame.head(3))
        tracking.register(run.id, name, alias="champion")
        rows[name] = frame
    challenger = HistGradientBoostingRegressor(max_iter=50).fit(X, y)
    with tracking.run(name="tree-challenger") as run:
        tracking.log_model(challenger, input_example=X.head(3))
    tracking.register(run.id, "tree", alias="challenger")

    class Plain(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["f0"] * 2 + 1).tolist()

    with tracking.run(name="pyfunc") as run:
        mlflow.pyfunc.log_model(name="model", python_model=Plain(), input_example=X.head(3))
    tracking.register(run.id, "pyfunc", alias="champion")
    rows["pyfunc"] = X
    return rows


def body(X: object, rows: int) -> str:
    frame = X.head(rows)  # type: ignore[attr-defined]
    return json.dumps(
        {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
    )


def wrk(url: str, payload: str, connections: int, seconds: int) -> dict[str, float]:
    """Throughput, p50 and p99 (ms), non-2xx answers and timeouts of one wrk run."""
    script = WORK / f"post-{len(payload)}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(payload)}\n"
    )
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "2s",
            "--latency",
            "-s",
            str(script),
            url,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
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
        "timeouts": float(timeouts.group(1)) if timeouts else 0.0,
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


def start_mlflow(model: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    from mlops_jupyter.tracking import store
    from mlops_jupyter.workspace import Workspace

    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        MLFLOW_TRACKING_URI=store.tracking_uri(Workspace.find(WORK)),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{model}@champion",
         "--port", str(port), "--workers", str(workers), "--env-manager", "local",
         "--host", "127.0.0.1"],
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


def bench_calls(rows: dict[str, object], calls: int = 300) -> None:
    """In-process, one-row calls: the tree through Treelite against sklearn's predict, the
    Pipeline without and with MLflow's schema check, and a full garbage collection with the
    models loaded, before and after ``gc.freeze`` (what a worker does once started)."""
    import gc
    import warnings

    import numpy as np

    from mlops_jupyter.serving import model
    from mlops_jupyter.serving.protocols import Batch

    warnings.simplefilter("ignore")

    def per_call(fn) -> float:
        for _ in range(20):
            fn()
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - started) / calls * 1e6

    served = {name: model.load(f"models:/{name}@champion", name, "1", None)
              for name in ("tree", "pipeline")}  # fmt: skip
    checked = {}
    for name, m in served.items():
        frame = rows[name].head(1)  # type: ignore[attr-defined]
        checked[name] = m.check(Batch(list(frame.columns), frame.T.values.tolist()))
    tree, (names, columns) = served["tree"], checked["tree"]
    matrix = np.array(columns, dtype=float).T
    ours = per_call(lambda: tree.predict(columns, names))
    theirs = per_call(lambda: tree.estimator.predict(matrix))
    print(
        f"one-row call, tree: {tree.compiled or 'sklearn'} {ours:,.0f} us, sklearn {theirs:,.0f} us"
    )
    pipe, (names, columns) = served["pipeline"], checked["pipeline"]
    frame, _ = pipe.frame(columns, names)
    print(
        f"one-row call, Pipeline: ours {per_call(lambda: pipe.predict(columns, names)):,.0f} us, "
        f"through MLflow's pyfunc {per_call(lambda: pipe.pyfunc.predict(frame)):,.0f} us"
    )
    started = time.perf_counter()
    gc.collect()
    full = time.perf_counter() - started
    gc.freeze()
    started = time.perf_counter()
    gc.collect()
    frozen = time.perf_counter() - started
    gc.unfreeze()
    print(f"a full garbage collection with these loaded: {full * 1000:.1f} ms; frozen: "
          f"{frozen * 1000:.2f} ms")  # fmt: skip


def interleaved(
    model: str,
    variants: dict[str, dict],
    payload: str,
    loads: tuple[int, ...],
    workers: int,
    seconds: int,
    rounds: int,
) -> dict[str, dict[int, list[dict]]]:
    """wrk's figures for one model served several ways, all endpoints up at once and measured
    in turn, round after round (the machine's drift over a minute was as large as what is
    measured)."""
    from mlops_jupyter import serving

    urls = {}
    try:
        for i, (label, options) in enumerate(variants.items()):
            ep = serving.start(f"{model}@champion", name=f"variant{i}", workers=workers, **options)
            urls[label] = f"{ep.url}/invocations"
            wrk(urls[label], payload, 8, 2)  # warm up
        found: dict[str, dict[int, list[dict]]] = {v: {c: [] for c in loads} for v in variants}
        for _ in range(rounds):
            for label, url in urls.items():
                for c in loads:
                    found[label][c].append(wrk(url, payload, c, seconds))
    finally:
        for i in range(len(urls)):
            serving.stop(f"variant{i}")
    return found


def median(runs: list[dict], figure: str = "rps") -> float:
    import statistics

    return statistics.median(run[figure] for run in runs)


def costs(found: dict[str, dict[int, list[dict]]], model: str, base: str, label: str) -> list[str]:
    """What ``label`` costs against ``base``, per load: medians of the rounds."""
    lines = []
    for c, runs in found[label].items():
        mine, theirs = median(runs), median(found[base][c])
        shown = " / ".join(f"{v['rps']:,.0f}" for v in runs)
        lines.append(
            f"{model:<8} c{c:<2}: {label} costs {1 - mine / theirs:.1%} (medians of {len(runs)} "
            f"rounds: {mine:,.0f} against {theirs:,.0f} req/s; {shown})"
        )
    return lines


def trial_costs(payload: str, workers: int, seconds: int, rounds: int = 3) -> list[str]:
    """What a challenger costs the tree's endpoint: none, a 10% split, a shadow."""
    found = interleaved("tree", {
        "none": {},
        "a challenger on a 10% split": {"challenger": "tree@challenger", "split": 10},
        "a challenger in shadow": {"challenger": "tree@challenger", "shadow": True},
    }, payload, (8, 64), workers, seconds, rounds)  # fmt: skip
    return [line for label in list(found)[1:] for line in costs(found, "tree", "none", label)]


def batching_gains(payload: str, workers: int, seconds: int, rounds: int = 3) -> list[str]:
    """What batching gives the Pipeline (sklearn's own predict), on and off in turn."""
    found = interleaved("pipeline", {"on": {}, "off": {"batching": False}}, payload, (1, 8, 64),
                      workers, seconds, rounds)  # fmt: skip
    lines = []
    for c in (1, 8, 64):
        on, off = (found[v][c] for v in ("on", "off"))
        shown = " / ".join(f"{v['rps']:,.0f}" for v in on)
        lines.append(
            f"pipeline c{c:<2}: batching gives {median(on) / median(off):.2f}x req/s, p50 "
            f"{median(on, 'p50'):.2f} ms against {median(off, 'p50'):.2f} (medians of {rounds} "
            f"rounds; req/s on {shown})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-requests", type=int, default=1_000_000)
    parser.add_argument("--models", default="linear,tree,pipeline,pyfunc", help="which to serve")
    parser.add_argument("--trials", type=int, default=0, help="only a trial's cost, N rounds")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_serve needs wrk: apt-get install wrk")
    from mlops_jupyter import serving

    rows = setup()
    if args.trials:
        costs = trial_costs(body(rows["tree"], 1), args.workers, args.seconds, args.trials)
        print("\n".join(costs))
        return
    bench_calls(rows)
    results: dict[str, dict[str, dict[str, float]]] = {}

    def measure(label: str, url: str, payload: str, loads=(1, 8, 64)) -> dict[str, dict]:
        wrk(url, payload, 8, 2)  # warm up
        r = results[label] = {f"c{c}": wrk(url, payload, c, args.seconds) for c in loads}
        shown = " | ".join(
            f"c{c} {r[f'c{c}']['rps']:>7,.0f} req/s p50 {r[f'c{c}']['p50']:6.2f} ms "
            f"p99 {r[f'c{c}']['p99']:7.2f} ms" for c in loads
        )  # fmt: skip
        bad = sum(v["errors"] + v["timeouts"] for v in r.values())
        print(f"{label:<34} {shown} | non-2xx+timeouts {bad:.0f}", flush=True)
        return r

    def ours(model: str, label: str, payload: str, loads=(1, 8, 64), **options) -> dict:
        ep = serving.start(f"{model}@champion", name="ours", workers=args.workers, **options)
        try:
            return measure(label, f"{ep.url}/invocations", payload, loads)
        finally:
            serving.stop("ours")

    def theirs(model: str, payload: str, loads=(1, 8, 64)) -> dict:
        proc = start_mlflow(model, 5301, args.workers)
        try:
            return measure(f"{model}: mlflow models serve", "http://127.0.0.1:5301/invocations",
                           payload, loads)  # fmt: skip
        finally:
            stop(proc)

    print(f"{args.workers} workers each, {args.seconds} s per load, one-row requests")
    proc = start_constant(5302, args.workers)
    ceiling = measure(
        "constant response (ceiling)", "http://127.0.0.1:5302/", body(rows["tree"], 1)
    )
    stop(proc)
    summary = []
    for model in args.models.split(","):
        one = body(rows[model], 1)
        o, m = ours(model, f"{model}: ours", one), theirs(model, one)
        for c in ("c1", "c8", "c64"):
            summary.append(
                f"{model:<8} {c:>3}: {o[c]['rps'] / m[c]['rps']:5.1f}x mlflow's req/s, p99 "
                f"{o[c]['p99'] / m[c]['p99']:.3f} of its p99, {o[c]['rps']:,.0f} req/s "
                f"({o[c]['rps'] / ceiling[c]['rps']:.0%} of the ceiling)"
            )
        if model == "linear":
            n = ours(model, "linear: ours, log off", one, (8, 64), log_predictions=False)
            for c in ("c8", "c64"):
                summary.append(
                    f"linear   {c:>3}: the log costs {1 - o[c]['rps'] / n[c]['rps']:.1%}"
                )
            thousand = body(rows[model], 1000)
            big_o = ours(model, "linear: ours, 1,000 rows", thousand, (4,))
            big_m = theirs(model, thousand, (4,))
            ratio = big_o["c4"]["rps"] / big_m["c4"]["rps"]
            summary.append(f"linear   1,000-row requests: {ratio:.1f}x mlflow's rows/s")
        if model == "pipeline":  # sklearn's own predict behind the batcher
            summary += batching_gains(one, args.workers, args.seconds)
        if model == "tree":
            summary += trial_costs(one, args.workers, args.seconds)
    print("\n".join(summary))
    print(
        "targets: tree and pipeline at c64 >= 5,000 req/s and >= 20x, p99 <= 0.1 of mlflow's;"
        " linear >= 8,000 req/s; shadow costs <= 30%, a 10% split nothing measurable"
    )
    bench_log_read(args.log_requests)


if __name__ == "__main__":
    main()
