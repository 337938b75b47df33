"""The sidebar in a real JupyterLab, driven by Debian's headless chromium (Playwright)."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from browser import SCREENSHOTS, jupyterlab, lab_page
from helpers import send

from mlops_jupyter import datasets, tracking

ODD_NAME = '<img src=x onerror="window.__injected=1">'


@pytest.fixture
def lab(project, endpoint, tmp_path):
    """JupyterLab on 127.0.0.1 in the project (a dataset, runs, a model, a running endpoint)."""
    with jupyterlab(project, tmp_path) as url:
        yield url


@pytest.fixture
def page(lab):
    with lab_page(lab) as page:
        yield page


def add_runs(count: int) -> None:
    """``count`` finished runs with a metric, written straight through MLflow's client."""
    client = tracking.client()
    experiment = client.get_experiment_by_name("Default").experiment_id
    for i in range(count):
        run = client.create_run(experiment, run_name=f"sweep-{i:03d}")
        client.log_metric(run.info.run_id, "accuracy", i / count)
        client.set_terminated(run.info.run_id)


def widen(page, panel, width: int) -> None:
    """Drag the handle between the left sidebar and the main area (as a user would)."""
    box = panel.bounding_box()
    handle_x = box["x"] + box["width"] + 2
    page.mouse.move(handle_x, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + width, box["y"] + 300, steps=5)
    page.mouse.up()


def test_the_sidebar_shows_and_acts(page, project, endpoint):
    run = tracking.get_run("fit")
    tracking.register(run.info.run_id, "m")  # version 2, to be promoted from the panel
    for step in range(5):  # a metric's history, drawn in the run's view
        tracking.client().log_metric(run.info.run_id, "loss", 1 / (step + 1), step=step)
    add_runs(120)
    for alpha, kind in [(0.1, "tree"), (0.2, "tree"), (0.3, "linear")]:  # three to compare
        with tracking.run(name=f"try-{alpha}", params={"alpha": alpha, "kind": kind}) as tried:
            for step in range(3):
                tried.log_metric("rmse", 1 - alpha + 0.1 / (step + 1), step=step)
    with tracking.run(name="elsewhere", experiment="other") as elsewhere:
        pass
    tracking.client().set_tag(elsewhere.id, "mlops.cells", "non-linear")  # as %%track tags it
    tracking.client().set_tag(elsewhere.id, "mlops.cells.why", "cell 2 ran 2 times ([2], [4])")
    with tracking.run(name=ODD_NAME):  # the newest: first in the list
        pass
    features = pd.read_csv(project / "features.csv")  # v2: two rows dropped, one value revised
    features.loc[0, "b"] = 9.5
    features.drop(index=[1, 2]).to_csv(project / "features.csv", index=False)
    datasets.add(project / "features.csv", name="features", project=project)

    page.click("li[data-id='mlops-jupyter-sidebar']")
    panel = page.locator("#mlops-jupyter-sidebar")
    count = "document.querySelector('.mlops-section-runs .mlops-meta').textContent"
    page.wait_for_function(f"{count} === '100+ runs'")  # a first page, quick to show
    # at the default width (about 250 px) a run is a line: name, status icon, first metric;
    # at least ten of them in view, the counts in the sections' headers
    assert panel.bounding_box()["width"] < 300
    swept = panel.locator(".mlops-runs-row[data-run]", has_text="sweep-119")
    assert swept.locator(".mlops-col-status").inner_text() == "✓"
    assert swept.locator(".mlops-col-metric-0").inner_text() == "0.9917"
    assert swept.locator(".mlops-col-started").is_hidden()
    in_view = """s => { const box = s.getBoundingClientRect();
        return [...s.querySelectorAll('.mlops-runs-row[data-run]')].filter(r => {
            const b = r.getBoundingClientRect(); return b.top >= box.top && b.bottom <= box.bottom;
        }).length; }"""
    assert panel.locator(".mlops-section-runs").evaluate(in_view) >= 10
    for title in ("Datasets (1)", "Runs (100+)", "Models (1)", "Endpoints (1)"):
        panel.locator(".jp-AccordionPanel-title", has_text=title).wait_for()  # each loads alone
    model_line = panel.locator(".mlops-endpoint[data-endpoint='m'] .mlops-endpoint-model")
    assert model_line.inner_text() == "m@champion v1" and model_line.bounding_box()["height"] < 24
    page.screenshot(path=str(SCREENSHOTS / "sidebar-250.png"))
    widen(page, panel, 430)
    assert swept.locator(".mlops-col-started").is_visible()  # widened: when each started
    # Datasets: the version with its rows; Runs: counted, virtualized
    version = panel.locator(".mlops-version[data-ref='features@v1']")
    assert "2,000 rows" in version.inner_text()
    rows = panel.locator(".mlops-runs-spacer .mlops-runs-row")
    assert 0 < rows.count() < 60  # only those in view (and a margin) exist
    panel.locator(".mlops-runs-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
    page.wait_for_function(f"{count} === '126 runs'")  # the next page, fetched on the way down
    panel.locator(".mlops-runs-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
    panel.locator(".mlops-runs-row", has_text="sweep-000").wait_for()  # near the end
    assert 0 < rows.count() < 60
    # names are text, never HTML
    panel.locator(".mlops-runs-viewport").evaluate("v => { v.scrollTop = 0; }")
    panel.locator(".mlops-runs-row", has_text=ODD_NAME).wait_for()
    assert panel.locator("img").count() == 0
    assert page.evaluate("window.__injected") is None

    # three runs side by side: what differs, their histories overlaid, parallel coordinates
    for name in ("try-0.1", "try-0.2", "try-0.3"):
        panel.locator(".mlops-runs-row[data-run]", has_text=name).click(modifiers=["Control"])
    assert panel.locator(".mlops-runs-row.mlops-selected").count() == 3
    panel.locator(".mlops-runs-compare", has_text="Compare 3").click()
    compare = page.locator("#mlops-compare")
    compare.locator(".mlops-compare-table").wait_for()
    chosen = ["✓ try-0.1", "✓ try-0.2", "✓ try-0.3"]  # in the order chosen
    assert compare.locator("th.mlops-compare-run").all_inner_texts() == chosen
    differs = "rs => rs.map(r => r.dataset.field)"
    assert compare.locator("tr.mlops-compare-differs").evaluate_all(differs) == ["alpha", "kind"]
    assert compare.locator("tr[data-field='rmse'] td").all_inner_texts()[1:] == [
        "0.9333", "0.8333", "0.7333"
    ]  # fmt: skip
    assert compare.locator(".mlops-parallel-line").count() == 3
    compare.locator(".mlops-compare-histories svg").wait_for()
    assert compare.locator(".mlops-compare-histories polyline").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "compare.png"))

    # one experiment at a time
    panel.locator(".mlops-runs-experiment").select_option("other")
    page.wait_for_function(f"{count} === '1 run'")
    listed = panel.locator(".mlops-runs-row[data-run]")
    assert listed.inner_text().startswith("↯ elsewhere")  # its cells ran out of order
    assert listed.get_attribute("data-cells") == "non-linear"
    listed.click()  # its view opens in the main area, saying why
    view = page.locator(f"#mlops-run-{elsewhere.id[:8]}")  # as the list names it
    view.locator("text=Non-linear: cell 2 ran 2 times ([2], [4])").wait_for()
    panel.locator(".mlops-runs-experiment").select_option("")
    page.wait_for_function(f"{count} === '100+ runs'")

    # a run's view: metrics, parameters, the data it read, its code; restored on reload
    panel.locator(".mlops-runs-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
    page.wait_for_function(f"{count} === '126 runs'")
    panel.locator(".mlops-runs-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
    panel.locator(".mlops-runs-row[data-run]", has_text="fit").last.click()
    fit = page.locator(f"#mlops-run-{run.info.run_id[:8]}")
    fit.locator(".mlops-run-data[data-ref='features@v1']", has_text="training").wait_for()
    assert fit.locator(".mlops-run-title").inner_text().endswith(" fit")
    assert fit.locator(".mlops-run-metrics tr[data-metric='loss'] svg.mlops-spark").count() == 1
    assert fit.locator("text=Non-linear").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "run-view.png"))

    # an endpoint's view: traffic, latency, the scorecard, the last requests, live
    for i in range(3):
        send(endpoint.url, pd.DataFrame({"a": [0.1 * i], "b": [0.2], "c": [0.3]}))
    panel.locator(".mlops-endpoint[data-endpoint='m'] .mlops-endpoint-name").click()
    served = page.locator("#mlops-endpoint-m")
    served.locator(".mlops-endpoint-requests tbody tr").first.wait_for()
    assert served.locator(".mlops-endpoint-requests tbody tr").count() == 3
    counted = served.locator("[data-tile='requests'] .mlops-tile-value").inner_text()
    assert int(counted) >= 3  # (and the scorecard's probes of the model, which /metrics counts)
    assert served.locator("[data-tile='p95'] .mlops-tile-value").inner_text().endswith(" ms")
    served.locator(".mlops-endpoint-card .mlops-check").first.wait_for()  # the scorecard
    send(endpoint.url, pd.DataFrame({"a": [0.5], "b": [0.2], "c": [0.3]}))
    page.wait_for_function(  # read again: the new request and a rate from the two reads
        "document.querySelectorAll('#mlops-endpoint-m .mlops-endpoint-requests tbody tr')"
        ".length === 4"
    )
    served.locator(".mlops-endpoint-rate svg").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "endpoint.png"))

    # the lineage: from a prediction back to the data its model learned from…
    served.locator(".mlops-endpoint-requests tbody tr").first.click()
    lineage = page.locator("#mlops-lineage")
    graph = lineage.locator(".mlops-lineage-graph")

    def node(id_):
        return lineage.locator(f".mlops-lineage-node[data-id='{id_}']")

    node("data:features@v1").wait_for()
    drawn = "g => [...g.querySelectorAll('.mlops-lineage-node')].map(n => n.dataset.id).sort()"
    fit_id = f"run:{run.info.run_id}"
    assert lineage.locator(".mlops-lineage-heading").inner_text() == "m/1: where it came from"
    assert graph.evaluate(drawn) == sorted(["model:m/1", fit_id, "data:features@v1"])
    page.locator(".lm-TabBar-tab", has_text="Endpoint m").click()  # …or from the endpoint
    served.locator("button", has_text="Lineage").click()
    node("endpoint:m").wait_for()
    assert graph.evaluate(drawn) == sorted(["endpoint:m", "model:m/1", fit_id, "data:features@v1"])
    left = "n => n.getBoundingClientRect().left"
    xs = [node(i).evaluate(left) for i in ("data:features@v1", fit_id, "model:m/1", "endpoint:m")]
    assert xs == sorted(xs) and len(set(xs)) == 4  # laid out left to right, as things flowed
    assert "laid out in" in lineage.locator("[role=status]").inner_text()
    assert lineage.locator(".mlops-lineage-chosen").get_attribute("data-id") == "endpoint:m"
    fill = "r => getComputedStyle(r).fill"
    light_fill = node("model:m/1").locator("rect").evaluate(fill)
    # …and from the data forward to every model and endpoint it reached
    node("data:features@v1").click()
    assert lineage.locator(".mlops-lineage-selected b").inner_text() == "features@v1"
    lineage.locator("button", has_text="What it reached").click()
    node("monitor:m").wait_for()
    reached = set(graph.evaluate(drawn))
    assert {fit_id, "model:m/1", "model:m/2", "endpoint:m", "monitor:m"} <= reached
    assert "data:features@v2" not in reached and "endpoint:m" in reached
    assert lineage.locator(".mlops-lineage-heading").inner_text() == "features@v1: what it reached"
    node(fit_id).click()  # a run: its view from here
    lineage.locator("button", has_text="Open run").click()
    fit.wait_for()
    page.locator(".lm-TabBar-tab", has_text="Lineage: features@v1").click()
    page.screenshot(path=str(SCREENSHOTS / "lineage.png"))
    time.sleep(1.5)  # JupyterLab saves its layout shortly after a change
    page.reload()  # the views come back, the lineage where it was walked to (in front)
    node("monitor:m").wait_for()
    fit.locator(".mlops-run-data[data-ref='features@v1']").wait_for(state="attached")
    compare.locator("th.mlops-compare-run").first.wait_for(state="attached")
    assert compare.locator("th.mlops-compare-run").all_inner_texts() == chosen
    served.locator(".mlops-endpoint-view-head h2").wait_for(state="attached")
    assert lineage.locator(".mlops-lineage-heading").inner_text() == "features@v1: what it reached"
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    if not panel.is_visible():
        page.click("li[data-id='mlops-jupyter-sidebar']")

    # a version's change in a line; its rows and cells in the main area
    v2 = panel.locator(".mlops-version[data-ref='features@v2']")
    assert v2.locator(".mlops-change").inner_text() == "-2 rows"
    assert version.locator(".mlops-diff-open").count() == 0  # the first version
    v2.locator(".mlops-diff-open").click()
    view = page.locator(".mlops-diff")
    view.locator(".mlops-diff-summary").wait_for()
    assert (
        view.locator(".mlops-diff-summary")
        .inner_text()
        .startswith("features@v1 -> features@v2: +0 rows, -2 rows, 1 row changed in b (key: a,")
    )
    cells = view.locator("tr.mlops-diff-changed td.mlops-cell-changed").all_inner_texts()
    assert len(cells) == 2 and cells[1] == "9.5"  # b before and after
    view.locator("button[data-kind='removed']").click()
    assert view.locator("tbody tr.mlops-diff-removed").count() == 2
    assert view.locator("tbody tr").count() == 2
    page.screenshot(path=str(SCREENSHOTS / "diff.png"))

    # Endpoints and Monitors
    panel.locator(".mlops-section-endpoints .mlops-endpoint[data-endpoint='m']").wait_for()
    assert endpoint.url in panel.locator(".mlops-section-endpoints").inner_text()
    light = panel.locator(".mlops-monitor[data-endpoint='m'] summary .mlops-light")
    light.wait_for()
    assert light.get_attribute("title") in {"pass", "warn", "fail"}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    panel.locator(".mlops-section-runs").evaluate("s => { s.scrollTop = 0; }")
    page.screenshot(path=str(SCREENSHOTS / "sidebar.png"))

    # promote v2 to @champion: the alias moves
    model = panel.locator(".mlops-model[data-model='m']")
    assert "@champion" in model.locator(".mlops-model-version[data-version='1']").inner_text()
    model.locator("select").select_option("2")
    model.locator(".mlops-promote").click()
    moved = model.locator(".mlops-model-version[data-version='2'] .mlops-alias")
    moved.wait_for()
    assert moved.inner_text() == "@champion"
    assert str(tracking.client().get_model_version_by_alias("m", "champion").version) == "2"

    # a click on a version puts the code that loads it into the notebook
    page.evaluate("jupyterapp.commands.execute('notebook:create-new', {kernelName: 'python3'})")
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    page.evaluate("window.jupyterapp.commands.execute('mlops-jupyter:open')")  # the palette's
    version.click()
    page.wait_for_function(
        "[...document.querySelectorAll('.jp-Notebook .cm-content')]"
        ".some(c => c.textContent.includes('df = %dataset load features@v1'))"
    )
    status = panel.locator(".mlops-statusline").inner_text()
    assert status.startswith('Inserted "df = %dataset load features@v1"')
    page.screenshot(path=str(SCREENSHOTS / "insert.png"))

    # the palette's commands, and the dark theme followed
    assert page.evaluate("window.jupyterapp.commands.hasCommand('mlops-jupyter:refresh')")
    light_background = panel.evaluate("n => getComputedStyle(n).backgroundColor")
    page.evaluate(
        "window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    deadline = time.monotonic() + 30
    while panel.evaluate("n => getComputedStyle(n).backgroundColor") == light_background:
        assert time.monotonic() < deadline, "the sidebar did not follow the dark theme"
        time.sleep(0.2)
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.screenshot(path=str(SCREENSHOTS / "sidebar-dark.png"))
    page.locator(".lm-TabBar-tab", has_text="Lineage: ").click()  # the views follow it too
    assert node("model:m/1").locator("rect").evaluate(fill) != light_fill
    page.screenshot(path=str(SCREENSHOTS / "lineage-dark.png"))
