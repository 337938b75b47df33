"""Prometheus: the scrape configuration `%serve prometheus` writes, checked by promtool, and a
real Prometheus (Debian's) scraping an endpoint's /metrics on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pandas as pd
import pytest
from helpers import send
from services import Process

from mlops_jupyter.netutil import pick_port, wait_http


def query(url: str, promql: str) -> list:
    answer = urllib.request.urlopen(f"{url}/api/v1/query?query={urllib.parse.quote(promql)}")
    return json.loads(answer.read())["data"]["result"]


def test_prometheus_scrapes_an_endpoint(endpoint, project, shell, tmp_path):
    send(endpoint.url, pd.DataFrame({"a": [0.1, -1.0], "b": [0.0, 1.0], "c": [2.0, 0.5]}))
    config = tmp_path / "prometheus.yml"
    shell.run(f"%serve prometheus --write {config} --interval 1s")
    text = config.read_text()
    assert f"targets:\n    - {endpoint.url.removeprefix('http://')}" in text
    checked = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True)
    assert checked.returncode == 0, checked.stderr

    metrics = urllib.request.urlopen(endpoint.url + "/metrics").read()
    linted = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr

    port = pick_port(None, int(os.environ.get("MLOPS_TEST_PORT", 19090)) + 50)
    prometheus = Process(
        ["prometheus", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
        tmp_path / "prometheus.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", 60, prometheus.alive)
        deadline = time.monotonic() + 30
        while not query(url, 'mlops_requests_total{endpoint="m",status="200"}'):
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
        up = query(url, 'up{job="mlops-jupyter-m"}')
        assert [(r["metric"]["endpoint"], r["value"][1]) for r in up] == [("m", "1")]
        answered = query(url, 'sum(mlops_requests_total{endpoint="m",status="200"})')
        assert float(answered[0]["value"][1]) >= 1
    finally:
        prometheus.stop()


def test_no_endpoint_no_configuration(project, shell):
    with pytest.raises(Exception, match="no endpoint is running; start one with `%serve start"):
        shell.run("%serve prometheus")
    done = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter.cli", "prometheus"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and "no endpoint is running" in done.stderr
