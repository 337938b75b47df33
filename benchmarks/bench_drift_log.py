"""Drift of a prediction log larger than memory: 20,000,000 logged rows x 25 columns.

    .venv/bin/python benchmarks/bench_drift_log.py [--rows 20000000]

The log is written as the endpoint leaves it once compacted (Parquet files of batch requests,
1,000 rows each; 20 numeric columns, 5 of them shifted, and 5 categorical, 2 of them shifted),
the reference is 1,000,000 rows of the same columns. Two processes, each timed with its peak
memory (RSS):

- out of core: ``served.ServedColumns`` reads the window a column at a time (what
  ``monitoring.drift`` does beyond 256 MB of log);
- in memory: the whole window read into pandas first (what it did before), the route a
  pandas-based tool (Evidently) takes. Evidently itself is not run at this size: it takes
  127 s at 1,000,000 rows here (``bench_drift.py``), and its memory grows with the rows.

Both give the same per-column statistics; the script says whether the verdicts agree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "drift-log"
ROWS_PER_REQUEST = 1_000
ROWS_PER_FILE = 1_000_000

COMMON = """
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
import pandas as pd
from mlops_jupyter.monitoring import statistics, multivariate, served, api
from mlops_jupyter.serving import predlog
folder, reference = Path(sys.argv[1]), pd.read_parquet(sys.argv[2])
"""

OUT_OF_CORE = (
    COMMON
    + """
current = served.ServedColumns.scan(folder, None, None)
"""
)

IN_MEMORY = (
    COMMON
    + """
import pyarrow.compute as pc
table = predlog.read(folder)
table = table.filter(pc.equal(table["status"], 200))
current = api.inputs_of(table)
del table
"""
)

REPORT = """
report = statistics.report(reference, current)
numeric = [c for c in reference.columns if c.startswith("num")]
errors = multivariate.reconstruction_drift(reference[numeric], current[numeric])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
verdicts = {c.column: [c.method, c.statistic, c.drifted] for c in report.columns}
print(json.dumps({"seconds": seconds, "peak_mb": peak, "rows": len(current),
                  "verdicts": verdicts, "multivariate": errors.error}))
"""


def make_log(rows: int) -> tuple[Path, Path]:
    """The log folder (Parquet files as compaction writes them) and the reference file."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = WORK / f"log-{rows}"
    reference = WORK / "reference.parquet"
    rng = np.random.default_rng(0)
    kinds = np.array(["north", "south", "east", "west"])

    def columns(n: int, drifted: bool) -> dict[str, np.ndarray]:
        data = {}
        for i in range(20):  # two decimals, as sensors report them (and small on disk)
            data[f"num{i}"] = rng.normal(0.5 if drifted and i < 5 else 0.0, 1.0, n).round(2)
        for j in range(5):
            p = [0.55, 0.25, 0.1, 0.1] if drifted and j < 2 else [0.25] * 4
            data[f"cat{j}"] = kinds[rng.choice(4, n, p=p)]
        return data

    WORK.mkdir(parents=True, exist_ok=True)
    if not reference.exists():
        pd.DataFrame(columns(1_000_000, False)).to_parquet(reference)
    if folder.exists():
        return folder, reference
    folder.mkdir()
    requests = ROWS_PER_FILE // ROWS_PER_REQUEST
    offsets = pa.array(np.arange(0, ROWS_PER_FILE + 1, ROWS_PER_REQUEST, dtype=np.int32))
    for number in range(rows // ROWS_PER_FILE):
        data = columns(ROWS_PER_FILE, True)
        inputs = pa.StructArray.from_arrays(
            [pa.ListArray.from_arrays(offsets, pa.array(v)) for v in data.values()],
            names=list(data),
        )
        first = number * requests
        table = pa.table({
            "id": pa.array([f"req-{first + i}" for i in range(requests)]),
            "ts": pa.array(1.7e9 + np.arange(first, first + requests, dtype=np.float64)),
            "model": pa.array(["m"] * requests),
            "version": pa.array(["1"] * requests),
            "status": pa.array(np.full(requests, 200, dtype=np.int64)),
            "latency_ms": pa.array(np.full(requests, 3.5)),
            "inputs": inputs,
            "outputs": pa.ListArray.from_arrays(offsets, pa.array(rng.normal(size=ROWS_PER_FILE))),
        })  # fmt: skip
        pq.write_table(table, folder / f"predictions-{number:06d}-1-0.parquet", compression="zstd")
    return folder, reference


def run(code: str, folder: Path, reference: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code + REPORT, str(folder), str(reference)],
                         capture_output=True, text=True)  # fmt: skip
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--skip-in-memory", action="store_true")
    args = parser.parse_args()
    folder, reference = make_log(args.rows)
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    print(f"log: {args.rows:,} rows x 25 columns in {len(list(folder.iterdir()))} Parquet files, "
          f"{size:,.0f} MB on disk; reference 1,000,000 rows")  # fmt: skip
    ours = run(OUT_OF_CORE, folder, reference)
    print(f"out of core (a column at a time): {ours['seconds']:.1f} s, peak RSS "
          f"{ours['peak_mb']:,.0f} MB (target < 2,048 MB); {ours['rows']:,} rows")  # fmt: skip
    if args.skip_in_memory:
        return
    whole = run(IN_MEMORY, folder, reference)
    if "error" in whole:
        print(f"in memory: failed ({whole['error']})")
        return
    print(f"in memory (the window read whole first): {whole['seconds']:.1f} s, peak RSS "
          f"{whole['peak_mb']:,.0f} MB; ratio of peaks {whole['peak_mb'] / ours['peak_mb']:.1f}x, "
          f"of times {whole['seconds'] / ours['seconds']:.2f}x")  # fmt: skip
    same = sum(ours["verdicts"][c] == v for c, v in whole["verdicts"].items())
    errors = f"{ours['multivariate']:.6f} vs {whole['multivariate']:.6f}"
    print(f"statistics and verdicts identical in {same} of {len(whole['verdicts'])} columns; "
          f"multivariate error {errors}")  # fmt: skip


if __name__ == "__main__":
    main()
