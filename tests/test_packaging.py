"""The wheel a user installs: the sidebar prebuilt inside, the server extension enabled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_prebuilt_sidebar_and_enables_the_server_extension(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,  # the build finds jupyter-builder if sources changed:
        env=dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("mlops_jupyter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "mlops_jupyter-0.1.0.data/data/"
    lab = data + "share/jupyter/labextensions/mlops-jupyter/"
    assert lab + "package.json" in names and lab + "install.json" in names
    assert any(n.startswith(lab + "static/remoteEntry.") for n in names)
    assert data + "etc/jupyter/jupyter_server_config.d/mlops_jupyter.json" in names
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)  # built output only


def test_the_panel_and_the_package_are_one_version():
    import tomllib

    import mlops_jupyter

    lab = json.loads((ROOT / "labextension" / "package.json").read_text())["version"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    panel = re.search(r"VERSION = '([^']+)'", (ROOT / "labextension/src/api.ts").read_text())
    assert panel is not None and lab == project == mlops_jupyter.__version__ == panel[1]
