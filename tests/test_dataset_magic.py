"""``%dataset`` in a real kernel and an IPython shell: results, displays, one-line errors."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from IPython.core.error import UsageError
from nbclient.exceptions import CellExecutionError

from mlops_jupyter.demo import run_notebook

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def test_the_magic_in_a_real_kernel(temps, project, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(src)
        for src in [
            "%load_ext mlops_jupyter",
            '%dataset add data/temps_1h.csv --name temps -m "hourly window"',
            "df = %dataset load temps@v1\nprint(len(df), list(df.columns))",
            "%dataset list",
            "%dataset diff temps",  # only one version: a one-line error
        ]
    ]
    source = tmp_path / "magic.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(CellExecutionError) as exc:
        run_notebook(source, project, progress=False)
    assert "UsageError" in str(exc.value) and "is the first version" in str(exc.value)

    nb.cells.pop()  # without the failing cell, everything runs
    nbformat.write(nb, source)
    executed = run_notebook(source, project, progress=False)
    loaded = "".join(o.get("text", "") for o in executed.cells[2].outputs)
    assert loaded.strip() == "8759 ['date', 'temp']"
    listing = executed.cells[3].outputs[0]
    assert "application/vnd.jupyter.widget-view+json" in listing["data"]


def test_load_ext_is_quick_and_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import time, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance()\n"
        "t = time.perf_counter(); sh.run_line_magic('load_ext', 'mlops_jupyter')\n"
        "print(time.perf_counter() - t)\n"
        "print(','.join(m for m in ('pandas', 'dvc', 'mlflow', 'pyarrow', 'ipywidgets')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.splitlines()
    assert float(seconds) < 0.3
    assert heavy == ""


def test_subcommands_return_useful_objects(shell, temps):
    version = shell.run('%dataset add data/temps_1h.csv -m "hourly window"')
    assert version.ref == "temps_1h@v1" and version.message == "hourly window"
    listing = shell.run("%dataset list")
    assert listing["version"].tolist() == ["v1"]
    stats = shell.run("%dataset show temps_1h@v1")
    assert stats.loc["temp", "count"] == 8759
    shell.user_ns["name"] = "temps_1h"
    frame = shell.run("%dataset load {name}@latest")
    assert frame.shape == (8759, 2)
    remotes = shell.run("%dataset remote")
    assert remotes["remote"].tolist() == ["local"]
    assert shell.run("%dataset push") == 1
    frame.iloc[:-1].assign(temp=frame["temp"].iloc[:-1].round()).to_csv(temps, index=False)
    shell.run('%dataset add data/temps_1h.csv -m "rounded, the last hour dropped"')
    rows = shell.run("%dataset diff temps_1h@v1 temps_1h@v2 --key date")
    assert rows.count("removed") == 1 and rows.cells["temp"] == rows.count("changed") > 0


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%dataset load nothing@v1", "no dataset named 'nothing'"),
        ("%dataset frobnicate", "has no subcommand 'frobnicate'"),
        ("%dataset add", "the following arguments are required: path"),
        ('%dataset add data/temps_1h.csv -m "unclosed', "check the quotes"),
        ("%dataset add data/missing.csv", "data/missing.csv does not exist"),
        ("%dataset remote add onlyname", "usage: %dataset remote add NAME URL"),
    ],
)
def test_mistakes_are_one_line_usage_errors(shell, temps, cell, message):
    with pytest.raises(UsageError, match=message) as exc:
        shell.run(cell)
    assert "\n" not in str(exc.value)


def test_help_on_every_subcommand(shell, capsys):
    shell.run("%dataset --help")
    overview = capsys.readouterr().out
    for sub in (
        "init",
        "add",
        "list",
        "show",
        "diff",
        "load",
        "checkout",
        "push",
        "pull",
        "remote",
    ):
        assert f"  {sub} " in overview
        shell.run(f"%dataset {sub} --help")
        assert f"%dataset {sub}" in capsys.readouterr().out
