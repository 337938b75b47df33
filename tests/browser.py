"""JupyterLab on 127.0.0.1 and Debian's headless chromium (Playwright), for the browser tests."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from mlops_jupyter.netutil import kill_child, pick_port, wait_http

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
TOKEN = "browser-test-token"


@contextlib.contextmanager
def jupyterlab(root: Path, scratch: Path) -> Iterator[str]:
    """JupyterLab serving ``root`` (settings and workspaces in ``scratch``); its URL."""
    settings = scratch / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port = pick_port(None, int(os.environ.get("MLOPS_TEST_PORT", 8900)))
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(scratch / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "lab-workspaces"),
    )
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root",
    ]  # fmt: skip
    with open(scratch / "lab.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=log, env=env, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", 60,
                  alive=lambda: server.poll() is None)  # fmt: skip
        yield f"http://127.0.0.1:{port}"
    finally:
        kill_child(server)


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator:
    """A page of Debian's headless chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `make env` (it installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


@contextlib.contextmanager
def lab_page(lab: str, path: str = "") -> Iterator:
    """A chromium page on JupyterLab at ``lab`` (``path`` opened), once the sidebar is there."""
    with chromium_page() as page:
        page.set_default_timeout(60_000)
        page.goto(f"{lab}/lab/tree/{path}?token={TOKEN}" if path else f"{lab}/lab?token={TOKEN}")
        page.wait_for_selector("li[data-id='mlops-jupyter-sidebar']")
        yield page
