"""What `import_costs` saves: the CPU of a fresh process importing skops (as an endpoint or a
kernel loading a scikit-learn model does) and papermill (as every notebook run does), with
mlops_jupyter imported first and without, side by side.

    .venv/bin/python benchmarks/bench_imports.py
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys

REPEATS = 5
CASES = {
    "skops.io (a scikit-learn model's loader)": "import skops.io",
    "papermill (a notebook run)": "import papermill",
    "jsonschema": "import jsonschema",
}


def cpu_seconds(code: str) -> float:
    """User + system CPU of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    subprocess.run([sys.executable, "-c", "import mlops_jupyter, skops.io"], check=True)  # cache
    print(f"median CPU seconds of {REPEATS} fresh processes each")
    print(f"{'import':<42} {'plain':>7} {'with mlops_jupyter':>19} {'ratio':>6}")
    for label, code in CASES.items():
        plain = statistics.median(cpu_seconds(code) for _ in range(REPEATS))
        ours = statistics.median(
            cpu_seconds(f"import mlops_jupyter; {code}") for _ in range(REPEATS)
        )
        print(f"{label:<42} {plain:7.2f} {ours:19.2f} {plain / ours:5.1f}x")


if __name__ == "__main__":
    main()
