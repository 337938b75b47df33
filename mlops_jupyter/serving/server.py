"""The endpoint's process: ``python -m mlops_jupyter.serving.server RECORD`` runs uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path


def main(record_path: str) -> None:
    record = json.loads(Path(record_path).read_text())
    metrics = Path(record["metrics_dir"])
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)  # before any worker imports the client
    os.environ["MLOPS_JUPYTER_ENDPOINT"] = str(Path(record_path).resolve())
    import uvicorn

    from .resources import Sampler

    Sampler(Path(record["log_dir"])).start()  # CPU, memory and I/O of this process and workers
    uvicorn.run(
        "mlops_jupyter.serving.app:create_app",
        factory=True,
        host=record["host"],
        port=int(record["port"]),
        workers=int(record["workers"]),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main(sys.argv[1])
