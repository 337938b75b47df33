"""The monitoring dashboard: resources sampled, charts, the widget, and the page Voilà publishes."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shared_endpoint
from browser import SCREENSHOTS, chromium_page
from helpers import send, wait_for

from mlops_jupyter import monitoring
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.monitoring import publish
from mlops_jupyter.serving import endpoints, resources

# one started endpoint for this module's tests (see shared_endpoint)
shared, project, endpoint = (
    shared_endpoint.shared,
    shared_endpoint.project,
    shared_endpoint.endpoint,
)


def traffic(endpoint, requests: int = 10, shift: float = 0.8) -> None:
    rng = np.random.default_rng(11)
    for _ in range(requests):
        served = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
        served["a"] += shift
        send(endpoint.url, served)


def test_the_endpoint_samples_its_processes(endpoint):
    folder = Path(endpoints.record_of(endpoint)["log_dir"])
    deadline = time.monotonic() + 20
    while len(resources.read(folder)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    samples = resources.read(folder)
    assert len(samples) >= 3
    assert (samples["rss_mb"] > 20).all()  # a Python process serving a model: tens of MB
    assert samples["processes"].min() >= 1 and samples["ts"].is_monotonic_increasing
    assert {"cpu_percent", "read_bytes_s", "sent_bytes_s"} <= set(samples.columns)

    traffic(endpoint, 3)
    ops = monitoring.scorecard(endpoint.name).checks[5]
    assert ops.monitor == "6 ops" and "3 requests" in ops.evidence
    assert "memory" in ops.evidence and "CPU" in ops.evidence


def test_a_failing_scorecard_exits_non_zero(endpoint, project):
    send(endpoint.url, pd.DataFrame({"a": [50.0] * 40, "b": 0.0, "c": 0.0}))  # far out of range
    out = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter.cli", "monitor", "check", endpoint.name],
        capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "scorecard of m: FAIL" in out.stdout
    assert "FAIL  2 data invariants" in out.stdout and "a: 100.0% outside" in out.stdout


def test_the_dashboard_widget_shows_the_scorecard_and_charts(shell, endpoint):
    with pytest.raises(MlopsError, match="no endpoint 'nope'"):
        monitoring.dashboard("nope")
    box = shell.run(f"%monitor dashboard {endpoint.name}")  # no traffic yet: said, not a crash
    controls, out = box.children
    shown = [o["data"] for o in out.outputs]
    assert "Scorecard of m" in shown[1]["text/html"]
    assert any("no answered requests" in d.get("text/html", "") for d in shown)

    traffic(endpoint)
    controls.children[1].click()  # refresh
    shown = [o["data"] for o in out.outputs]
    charts = [d["application/vnd.vegalite.v5+json"] for d in shown if len(d) > 1 and
              "application/vnd.vegalite.v5+json" in d]  # fmt: skip
    assert len(charts) == 3  # drift per column, distributions, ops over time
    drift = charts[0]
    bars = {row["column"]: row["verdict"] for row in next(iter(drift["datasets"].values()))}
    assert bars == {"a": "drifted", "b": "stable", "c": "stable", "prediction (output)": "drifted"}
    assert charts[0]["$schema"].endswith("v5.json")  # rendered by the Vega JupyterLab ships

    controls.children[0].value = 1000  # the window selector redraws
    assert "last 1,000 requests" in dict((v, k) for k, v in monitoring.dashboard_windows())[1000]
    with pytest.raises(Exception, match="window '2h'"):
        shell.run(f"%monitor dashboard {endpoint.name} -w 2h")


def test_names_are_rendered_as_text_in_the_scorecard():
    from mlops_jupyter.monitoring.dashboard import scorecard_html

    card = monitoring.Scorecard("<b>x</b>", [monitoring.Check("1 deps", "pass", "<script>")])
    rendered = scorecard_html(card)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered


def test_a_published_dashboard_renders_in_a_browser(endpoint, project):
    traffic(endpoint)
    with pytest.raises(MlopsError, match=f"port {endpoint.url.rsplit(':', 1)[1]} .* in use"):
        publish.publish(endpoint.name, port=int(endpoint.url.rsplit(":", 1)[1]))
    page_of = publish.publish(endpoint.name, refresh=30, max_kernels=1)
    try:
        assert page_of.url.startswith("http://127.0.0.1:")
        assert publish.publish(endpoint.name).url == page_of.url  # published once
        token = page_of.url.split("token=")[1]
        assert token not in Path(f"/proc/{page_of.pid}/cmdline").read_text()  # not in `ps`
        host, port = page_of.url.split("/")[2].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/")  # no token: Voilà's login page, not the dashboard
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("Location")) == (302, "/login?next=%2F")
        connection.close()
        with chromium_page(1200, 1500) as page:
            page.goto(page_of.url, timeout=120_000)  # a kernel had it ready when publish returned
            page.wait_for_selector(".mlops-scorecard", timeout=30_000)
            page.wait_for_function(
                "document.querySelectorAll('.vega-embed svg, .vega-embed canvas').length >= 3",
                timeout=60_000,
            )
            text = page.inner_text("body")
            assert "Scorecard of m" in text and "7 prediction quality" in text
            assert "monitoring.dashboard(" not in text  # sources hidden
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
            with pytest.raises(urllib.error.HTTPError) as busy:  # the one kernel is in use
                urllib.request.urlopen(page_of.url, timeout=60)
            assert busy.value.code == 503 and b"already serves 1 open pages" in busy.value.read()

            # The page closed, its kernel ends and a warm one takes its place: the stakeholder's
            # next visit opens at once (the case took 15 s, a kernel started per visit).
            # (Twice at most: the suite's other worker may be busy with the demo meanwhile.)
            times = []
            while len(times) < 2 and min(times, default=3) >= 3:
                warmed = page_of.ready.stat().st_mtime
                page.goto("about:blank")
                wait_for(lambda: page_of.ready.stat().st_mtime > warmed, timeout=90)  # noqa: B023
                started = time.perf_counter()
                page.goto(page_of.url, timeout=30_000)
                page.wait_for_selector(".mlops-scorecard", timeout=30_000)
                times.append(time.perf_counter() - started)
            assert min(times) < 3, f"the published page took {times} s to show the scorecard"
    finally:
        publish.stop(endpoint.name)
    with socket.socket() as probe:  # the port is free again for a server (as servers bind:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT)
        probe.bind(("127.0.0.1", int(port)))
    assert publish.dashboards(project) == []
    with pytest.raises(MlopsError, match="no dashboard of 'm' is published"):
        publish.stop(endpoint.name)
