"""A full drift report on 1,000,000 rows x 25 columns against Evidently's DataDriftPreset.

    .venv/bin/python benchmarks/bench_drift.py [--rows 1000000]

20 numeric and 5 categorical columns; drift injected in 5 numeric and 2 categorical ones. Each
side runs in its own process on the same Parquet files (reading included), and reports time,
peak memory and its per-column verdicts. Evidently 0.7 needs pandas below 3, so it lives in its
own environment, made on first use in benchmarks/.work/evidently-venv (not a package
dependency). Then: reading 1,000,000 logged requests of an endpoint into a drift report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "drift"
EVIDENTLY = Path(__file__).parent / ".work" / "evidently-venv"

OURS = """
import json, resource, sys, time
started = time.perf_counter()
import pandas as pd
from mlops_jupyter import monitoring
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
report = monitoring.report(ref, cur)
seconds = time.perf_counter() - started
verdicts = {c.column: [c.method, c.statistic, c.drifted] for c in report.columns}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "verdicts": verdicts}))
"""

THEIRS = """
import json, resource, sys, time
started = time.perf_counter()
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(cur, ref)
seconds = time.perf_counter() - started
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift"):
        value = float(metric["value"])
        method, threshold = config["method"], config["threshold"]
        drifted = value < threshold if "p_value" in method else value >= threshold
        verdicts[config["column"]] = [method, value, drifted]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "verdicts": verdicts}))
"""


def make_data(rows: int) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd

    WORK.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = WORK / f"reference-{rows}.parquet", WORK / f"current-{rows}.parquet"
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    rng = np.random.default_rng(0)

    def frame(drifted: bool) -> pd.DataFrame:
        data = {}
        for i in range(20):
            shift = 0.5 if drifted and i < 5 else 0.0
            data[f"num{i}"] = rng.normal(shift, 1.0, rows)
        for j in range(5):
            p = [0.55, 0.25, 0.1, 0.1] if drifted and j < 2 else [0.25] * 4
            data[f"cat{j}"] = rng.choice(["north", "south", "east", "west"], rows, p=p)
        return pd.DataFrame(data)

    frame(False).to_parquet(ref_path)
    frame(True).to_parquet(cur_path)
    return ref_path, cur_path


def run(python: Path | str, code: str, ref: Path, cur: Path) -> dict:
    out = subprocess.run(
        [str(python), "-c", code, str(ref), str(cur)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_evidently() -> Path:
    python = EVIDENTLY / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently==0.7.23", "pandas<3"],
            check=True,
        )
    return python


def bench_log(requests: int) -> None:
    """1,000,000 logged one-row requests (10 features) into a drift report against training."""
    import numpy as np
    import pandas as pd

    from mlops_jupyter import monitoring
    from mlops_jupyter.serving import predlog

    folder = WORK / f"log-{requests}"
    rng = np.random.default_rng(1)
    if not predlog.files(folder):
        log = predlog.PredictionLog(folder)
        values = rng.normal(size=(requests, 10)).round(6).tolist()
        for i, row in enumerate(values):
            log.write({"id": f"{i:032x}", "ts": 1.7e9 + i * 0.0864, "model": "m", "version": "1",
                       "protocol": "mlflow", "status": 200, "latency_ms": 0.8,
                       "inputs": {f"f{j}": [v] for j, v in enumerate(row)},
                       "outputs": [i % 2]})  # fmt: skip
        log.close()
    reference = pd.DataFrame(rng.normal(size=(100_000, 10)), columns=[f"f{j}" for j in range(10)])
    started = time.perf_counter()
    table = predlog.read(folder)
    import pyarrow as pa
    import pyarrow.compute as pc

    inputs = table["inputs"].combine_chunks()
    current = pa.table(
        {f.name: pc.list_flatten(inputs.field(i)) for i, f in enumerate(inputs.type)}
    ).to_pandas()
    result = monitoring.report(reference, current)
    seconds = time.perf_counter() - started
    print(
        f"a day of prediction log ({requests:,} requests) into a drift report: {seconds:.2f} s "
        f"(target < 5 s); {sum(c.drifted for c in result.columns)} of 10 columns drifted"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--log-requests", type=int, default=1_000_000)
    args = parser.parse_args()
    ref, cur = make_data(args.rows)
    ours = run(sys.executable, OURS, ref, cur)
    theirs = run(ensure_evidently(), THEIRS, ref, cur)
    print(
        f"drift report, {args.rows:,} rows x 25 columns: ours {ours['seconds']:.2f} s "
        f"(peak {ours['peak_mb']:,.0f} MB) vs Evidently DataDriftPreset {theirs['seconds']:.1f} s "
        f"(peak {theirs['peak_mb']:,.0f} MB): {theirs['seconds'] / ours['seconds']:.0f}x faster "
        "(target >= 40x)"
    )
    agree, differ = 0, []
    for column, (method, value, verdict) in sorted(theirs["verdicts"].items()):
        mine = ours["verdicts"][column]
        if method.split()[0] != mine[0].split()[0]:
            continue  # a different method: verdicts need not agree
        if mine[2] == verdict:
            agree += 1
        else:
            differ.append(f"{column} (Evidently {value:.4f}, ours {mine[1]:.4f})")
    drifted = sorted(c for c, v in ours["verdicts"].items() if v[2])
    print(
        f"verdicts where the methods are the same: {agree} agree, {len(differ)} differ "
        f"{differ or ''}; drifted: {', '.join(drifted)}"
    )
    bench_log(args.log_requests)


if __name__ == "__main__":
    main()
