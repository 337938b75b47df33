"""Performance estimated without labels on 1,000,000 predictions, against NannyML.

    .venv/bin/python benchmarks/bench_estimation.py [--rows 1000000] [--kinds multiclass]
                                                    [--repeat 3]

A classifier of two classes and one of three (CBPE: ROC AUC, F1, accuracy; macro averages for
three) and two regressors (DLE: RMSE, MAE; the second's errors hang on three inputs together,
which DLE's tables of pairs cannot hold: it walks its trees), each with a labelled reference of
100,000 rows and 1,000,000 unlabelled predictions, in windows of 10,000 (ten in the reference set
the alert limits), the later half drifted (the model is worse there).
Each side runs in its own process on the same Parquet files, three times in turn (medians;
who goes first alternates), and reports its time (from the start of the process; after
imports; and reading, fitting on the reference, estimating the 1,000,000 apart: a monitor fits
once per reference and then only estimates), peak memory and its estimate and alert per window.
NannyML 0.13 is too heavy to be a dependency (FLAML, LightGBM, plotly, kaleido, a telemetry
client): it lives in its own environment, made on first use in benchmarks/.work/nannyml-venv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

WORK = Path(__file__).parent / ".work" / "estimation"
NANNYML = Path(__file__).parent / ".work" / "nannyml-venv"
REFERENCE_ROWS = 100_000
CHUNK = 10_000
FEATURES = [f"x{i}" for i in range(5)]

OURS = """
import json, resource, sys, time
started = time.perf_counter()
import pandas as pd
from mlops_jupyter.monitoring.estimation import CBPE, DLE
kind, chunk = sys.argv[3], int(sys.argv[4])
# what fit imports on first use (a kernel serving the model has them already)
__import__("scipy.optimize" if "class" in kind else "sklearn.ensemble")
imported = time.perf_counter()
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
read = time.perf_counter()
if kind == "classifier":
    estimator = CBPE(chunk_size=chunk).fit(ref["score"], ref["label"], ref["predicted"])
    fitted = time.perf_counter()
    result = estimator.estimate(cur["score"], cur["predicted"])
elif kind == "multiclass":
    scores, classes = [c for c in ref.columns if c.startswith("score_")], ["a", "b", "c"]
    estimator = CBPE(chunk_size=chunk).fit(ref[scores], ref["label"], ref["predicted"], classes)
    fitted = time.perf_counter()
    result = estimator.estimate(cur[scores], cur["predicted"])
else:
    features = [c for c in ref.columns if c.startswith("x")]
    estimator = DLE(chunk_size=chunk).fit(ref[features], ref["prediction"], ref["label"])
    fitted = time.perf_counter()
    result = estimator.estimate(cur[features], cur["prediction"])
now = time.perf_counter()
out = {m: [[w.estimate, w.alert] for w in e.windows] for m, e in result.items()}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": now - started, "work": now - imported, "read": read - imported,
                  "fit": fitted - read, "estimate": now - fitted, "peak_mb": peak,
                  "windows": out}))
"""

THEIRS = """
import json, resource, sys, time
started = time.perf_counter()
import pandas as pd
import nannyml as nml
import lightgbm
kind, chunk = sys.argv[3], int(sys.argv[4])
imported = time.perf_counter()
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
if kind == "classifier":
    metrics = ["roc_auc", "f1", "accuracy"]
    estimator = nml.CBPE(y_pred_proba="score", y_pred="predicted", y_true="label",
                         problem_type="classification_binary", metrics=metrics, chunk_size=chunk)
elif kind == "multiclass":
    metrics = ["roc_auc", "f1", "accuracy"]
    estimator = nml.CBPE(y_pred_proba={c: f"score_{c}" for c in "abc"}, y_pred="predicted",
                         y_true="label", problem_type="classification_multiclass",
                         metrics=metrics, chunk_size=chunk)
else:
    metrics = ["rmse", "mae"]
    features = [c for c in ref.columns if c.startswith("x")]
    estimator = nml.DLE(feature_column_names=features, y_pred="prediction", y_true="label",
                        metrics=metrics, chunk_size=chunk)
read = time.perf_counter()
estimator.fit(ref)
fitted = time.perf_counter()
frame = estimator.estimate(cur).filter(period="analysis").to_df()
now = time.perf_counter()
out = {m: [[float(v), bool(a)] for v, a in zip(frame[(m, "value")], frame[(m, "alert")])]
       for m in metrics}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": now - started, "work": now - imported, "read": read - imported,
                  "fit": fitted - read, "estimate": now - fitted, "peak_mb": peak,
                  "windows": out}))
"""


def make_data(kind: str, rows: int) -> tuple[Path, Path]:
    """A reference with labels and ``rows`` unlabelled predictions, the later half drifted."""
    import numpy as np
    import pandas as pd

    WORK.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = WORK / f"{kind}-reference.parquet", WORK / f"{kind}-{rows}.parquet"
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    rng = np.random.default_rng(7)

    def frame(n: int, shift: np.ndarray) -> pd.DataFrame:
        x = rng.normal(size=(n, len(FEATURES))) + shift[:, None] * np.array([1.0, 0.5, 0, 0, 0])
        data = pd.DataFrame(x, columns=FEATURES)
        signal = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
        if kind == "classifier":  # the model's scores are over-confident: calibration matters
            truth = 1 / (1 + np.exp(-signal))
            data["score"] = 1 / (1 + np.exp(-1.6 * (1.5 * x[:, 0] - x[:, 1])))
            data["predicted"] = (data["score"] >= 0.5).astype(int)
            data["label"] = (rng.random(n) < truth).astype(int)
        elif kind == "multiclass":  # three classes; the model over-confident on two of them
            odds = np.exp(np.c_[x[:, 0], x[:, 1], -x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3]])
            truth = odds / odds.sum(axis=1, keepdims=True)
            believed = np.exp(np.c_[1.6 * x[:, 0], 1.6 * x[:, 1], -x[:, 0] - x[:, 1]])
            believed /= believed.sum(axis=1, keepdims=True)
            for i, c in enumerate("abc"):
                data[f"score_{c}"] = believed[:, i]
            data["predicted"] = np.array(list("abc"))[believed.argmax(axis=1)]
            kind_of = (rng.random((n, 1)) > truth.cumsum(axis=1)).sum(axis=1)
            data["label"] = np.array(list("abc"))[kind_of]
        elif kind == "regressor":  # noise grows with x0: where traffic drifts, the model is worse
            data["prediction"] = 1.5 * x[:, 0] - x[:, 1]
            data["label"] = signal + rng.normal(size=n) * (0.5 + np.abs(x[:, 0]))
        else:  # "interacting": the noise hangs on x0, x1 and x2 together (no pair tells it)
            data["prediction"] = 1.5 * x[:, 0] - x[:, 1]
            noise = 0.3 + np.abs(x[:, 0] * x[:, 1] * x[:, 2])
            data["label"] = signal + rng.normal(size=n) * noise
        return data

    frame(REFERENCE_ROWS, np.zeros(REFERENCE_ROWS)).to_parquet(ref_path)
    shift = np.where(np.arange(rows) >= rows // 2, 1.0, 0.0)
    frame(rows, shift).to_parquet(cur_path)
    return ref_path, cur_path


def run(python: Path | str, code: str, ref: Path, cur: Path, kind: str) -> dict:
    out = subprocess.run(
        [str(python), "-c", code, str(ref), str(cur), kind, str(CHUNK)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"{python} failed on the {kind}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_nannyml() -> Path:
    python = NANNYML / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(NANNYML)], check=True)
        # its plots import statsmodels, which its requirements leave out
        packages = ["nannyml==0.13.1", "statsmodels==0.15.0"]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def compare(kind: str, rows: int, repeat: int) -> None:
    """Each side ``repeat`` times, in turn (the machine's speed drifts): median times; the
    first run's estimates and peak memory."""
    import statistics

    ref, cur = make_data(kind, rows)
    runs: dict[str, list[dict]] = {"ours": [], "theirs": []}
    sides = [("ours", sys.executable, OURS), ("theirs", ensure_nannyml(), THEIRS)]
    for round_ in range(repeat):  # who goes first alternates: the first reads a colder cache
        for side, python, code in sides[:: 1 if round_ % 2 == 0 else -1]:
            runs[side].append(run(python, code, ref, cur, kind))
    ours, theirs = runs["ours"][0], runs["theirs"][0]
    for side, found in (("ours", ours), ("theirs", theirs)):
        for figure in ("seconds", "work", "read", "fit", "estimate"):
            found[figure] = statistics.median(r[figure] for r in runs[side])
    print(
        f"{kind}, {rows:,} predictions, medians of {repeat} runs: ours {ours['seconds']:.2f} s "
        f"(peak "
        f"{ours['peak_mb']:,.0f} MB) vs NannyML {theirs['seconds']:.1f} s (peak "
        f"{theirs['peak_mb']:,.0f} MB): {theirs['seconds'] / ours['seconds']:.1f}x faster "
        f"(target >= 10x); after imports (read, fit, estimate): {ours['work']:.2f} s vs "
        f"{theirs['work']:.2f} s, {theirs['work'] / ours['work']:.1f}x"
    )
    print(
        "  of which "
        + ", ".join(
            f"{part} {ours[part]:.2f} s vs {theirs[part]:.2f} s ({theirs[part] / ours[part]:.1f}x)"
            for part in ("read", "fit", "estimate")
        )
        + "; the reference is fitted once, each later batch only estimated"
    )
    for metric, windows in theirs["windows"].items():
        mine = ours["windows"][metric]
        gaps = [abs(a[0] - b[0]) for a, b in zip(mine, windows, strict=True)]
        same = sum(a[1] == b[1] for a, b in zip(mine, windows, strict=True))
        print(
            f"  {metric}: largest gap per window {max(gaps):.4f} (target <= 0.02); alerts "
            f"the same in {same} of {len(windows)} windows (ours {sum(w[1] for w in mine)}, "
            f"NannyML {sum(w[1] for w in windows)})"
        )
        print(
            "    ours   " + " ".join(f"{w[0]:.3f}" for w in mine) + "\n"
            "    theirs " + " ".join(f"{w[0]:.3f}" for w in windows)
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="classifier,multiclass,regressor,interacting")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for kind in args.kinds.split(","):
        compare(kind, args.rows, args.repeat)


if __name__ == "__main__":
    main()
