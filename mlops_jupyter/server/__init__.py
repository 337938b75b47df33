"""The Jupyter server extension: the sidebar's REST API (``/mlops-jupyter/api/v1``)."""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Called by Jupyter Server when the extension is enabled (it is, on install)."""
    from .handlers import routes

    web_app = server_app.web_app
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
    server_app.log.info("mlops-jupyter: REST API at %s", routes(web_app.settings["base_url"])[0][0])
