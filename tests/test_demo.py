"""`make demo`: the three demo notebooks top to bottom in one fresh project, then the summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import SCREENSHOTS, jupyterlab, lab_page

from mlops_jupyter import demo, monitoring
from mlops_jupyter.monitoring import publish
from mlops_jupyter.serving import endpoints

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def outputs(nb_path: Path) -> str:
    """Everything an executed notebook's code cells printed or displayed, as one text."""
    nb = json.loads(nb_path.read_text())
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", [])))
            for value in output.get("data", {}).values():
                parts.append("".join(value) if isinstance(value, list) else json.dumps(value))
    return "\n".join(parts)


def test_the_notebooks_are_kept_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.timeout(900)  # three notebooks, two endpoints, a dashboard and JupyterLab: minutes
def test_the_demo_tells_the_whole_story(tmp_path, capsys, monkeypatch):
    project = tmp_path / "demo"
    monkeypatch.chdir(tmp_path)
    try:
        assert demo.main(["--notebooks", str(NOTEBOOKS), "--project", str(project)]) == 0
        said = capsys.readouterr().out
        # progress, then the summary: versions, runs, endpoints, dashboard, scorecards, next steps
        assert "[ 1/18] %load_ext mlops_jupyter" in said
        for expected in ("temps ", "weather ", "temps_1d ", "shallow", "deep", "spring",
                         "summer", "temps-model", "Dashboard of temps-model: http://127.0.0.1:",
                         "scorecard of weather:", "make lab", "make stop"):  # fmt: skip
            assert expected in said, expected
        assert {e.name for e in endpoints.endpoints(project)} == {"temps-model", "weather"}
        assert monitoring.scorecard("weather", project=project).status != "fail"  # retrained

        quickstart = outputs(project / "01-quickstart.ipynb")
        assert "of columns drifted against temps@v1" in quickstart
        assert "200 of 200 labels matched a row temps-model answered" in quickstart
        retrain = outputs(project / "03-drift-and-retrain.ipynb")
        assert "scorecard of weather: FAIL" in retrain  # summer traffic, spring model
        assert re.search("scorecard of weather: (PASS|WARN)", retrain)  # retrained, promoted
        assert "retrained on weather@v3" in retrain and "promoted weather/3" in retrain  # the loop
        windows = outputs(project / "02-time-series-versions.ipynb")
        assert "temps_1d@v1\r\ntemps_1d@v2\r\ntemps_1h@v1\r\ntemps_3h@v1" in windows
        assert "Data and pipelines are up to date" in windows
        assert "temps_1d@v1 -&gt; temps_1d@v2: +0 rows, -7 rows, 0 rows changed" in windows

        # the executed quickstart in JupyterLab, beside the sidebar: the README's picture
        with jupyterlab(project, tmp_path) as lab, lab_page(lab, "01-quickstart.ipynb") as page:
            page.click("li[data-id='mlops-jupyter-sidebar']")
            panel = page.locator("#mlops-jupyter-sidebar")
            panel.locator(".mlops-model[data-model='temps-model']").wait_for()
            drift = page.locator(".jp-CodeCell", has_text="%monitor drift temps-model")
            drift.evaluate("cell => cell.scrollIntoView({block: 'start'})")
            drift.locator(".jp-RenderedHTMLCommon table").first.wait_for()  # then the scorecard
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "notebook.png"))
    finally:
        assert demo.main(["--project", str(project), "--stop"]) == 0
    assert endpoints.endpoints(project) == [] and publish.dashboards(project) == []


def test_a_failed_cell_of_the_demo_prints_its_error(tmp_path, capsys, monkeypatch):
    from helpers import make_notebook

    notebooks = tmp_path / "notebooks"
    make_notebook(
        notebooks / demo.DEMO_NOTEBOOKS[0], None, "x = 1", "raise ValueError('bad input')"
    )
    for name in (*demo.DEMO_NOTEBOOKS[1:], *demo.HELPERS):
        make_notebook(notebooks / name, None, "x = 1")
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "demo"
    assert demo.main(["--notebooks", str(notebooks), "--project", str(project)]) == 1
    err = capsys.readouterr().err
    assert f"FAILED in notebooks/{demo.DEMO_NOTEBOOKS[0]}: ValueError: bad input\n" in err
    kept = project / demo.DEMO_NOTEBOOKS[0]  # the executed notebook, with the traceback
    assert "bad input" in kept.read_text()
