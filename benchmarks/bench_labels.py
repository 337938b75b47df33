"""Joining labels to 1,000,000 served rows that came in 100,000 requests of 10 rows each.

    .venv/bin/python benchmarks/bench_labels.py [--requests 100000] [--rows 10]

A prediction log of that size is written once (benchmarks/.work/labels), in the endpoint's own
format. Ours: the log read and every row given its id (``labels.row_answers``), then merged with
one label per row. Beside it, in the same run, the way one writes it by hand in pandas: the log
read line by line with ``orjson``, the outputs exploded to rows and the ids built per row. Both
must give the same joined rows. Target (issue 15): under 5 s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "labels"


def write_log(folder: Path, requests: int, rows: int) -> None:
    import numpy as np
    import orjson

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "predictions-20260101T000000-1-1.jsonl"
    if path.exists() and path.stat().st_size > 0 and (folder / f"{requests}x{rows}").exists():
        return
    rng = np.random.default_rng(0)
    with path.open("wb") as out:
        for k in range(requests):
            inputs = rng.normal(size=(2, rows)).round(4)
            record = {
                "id": f"req-{k}",
                "ts": 1_767_225_600 + k * 0.01,
                "model": "loans",
                "version": "1",
                "protocol": "mlflow",
                "status": 200,
                "latency_ms": 1.0,
                "inputs": {"a": inputs[0].tolist(), "b": inputs[1].tolist()},
                "outputs": (inputs[0] > 0).astype(int).tolist(),
            }
            out.write(orjson.dumps(record) + b"\n")
    (folder / f"{requests}x{rows}").touch()


def ours(folder: Path, labels):
    from mlops_jupyter.monitoring.labels import row_answers
    from mlops_jupyter.serving import predlog

    return labels.merge(row_answers(predlog.read(folder)), on="id")


def by_hand(folder: Path, labels):
    import orjson
    import pandas as pd

    records = [
        orjson.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.open("rb")
    ]
    log = pd.DataFrame(records)[["id", "ts", "outputs"]]
    rows = log.explode("outputs").rename(columns={"outputs": "prediction"})
    rows["id"] = rows["id"] + "#" + rows.groupby(level=0).cumcount().astype(str)
    rows = rows.sort_values("ts", kind="stable").drop_duplicates("id", keep="last")
    return labels.merge(rows, on="id")


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10)
    args = parser.parse_args()
    import numpy as np
    import pandas as pd

    write_log(WORK, args.requests, args.rows)
    ids = [f"req-{k}#{j}" for k in range(args.requests) for j in range(args.rows)]
    labels = pd.DataFrame({"id": ids, "label": np.zeros(len(ids), dtype=int)})
    print(f"{len(ids):,} rows from {args.requests:,} requests of {args.rows} rows")
    joined, seconds = timed(ours, WORK, labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  ours     {seconds:6.2f} s  {len(joined):,} labelled rows  (peak {peak:,.0f} MB so far)"
    )
    theirs, hand_seconds = timed(by_hand, WORK, labels)
    print(f"  by hand  {hand_seconds:6.2f} s  {len(theirs):,} labelled rows")
    same = (
        len(joined) == len(theirs)
        and (
            joined.sort_values("id")["prediction"].astype(int).to_numpy()
            == theirs.sort_values("id")["prediction"].astype(int).to_numpy()
        ).all()
    )
    print(f"  same rows and predictions: {same}; ours {hand_seconds / seconds:.1f}x faster")
    print(f"  target: under 5 s -> {'met' if seconds < 5 else 'NOT met'}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
