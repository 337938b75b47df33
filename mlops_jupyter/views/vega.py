"""altair charts that render without the internet, in JupyterLab, Voilà and the classic notebook.

altair's default renderer emits HTML that fetches Vega from a CDN. Here a chart is emitted as the
Vega-Lite mimetype that JupyterLab and Voilà render with the Vega they ship (v5), so charts work
offline and are kept in the notebook file as data.
"""

from __future__ import annotations

from typing import Any

NAME = "mlops-offline"
MIMETYPE = "application/vnd.vegalite.v5+json"
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def render(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """altair's renderer protocol: a chart's spec in, a mimebundle out."""
    spec = {**spec, "$schema": SCHEMA}
    return {MIMETYPE: spec, "text/plain": "<altair chart: open in JupyterLab or Voilà to see it>"}


def enable() -> None:
    """Make our renderer altair's active one, unless the user already chose another."""
    import altair as alt

    if NAME not in alt.renderers.names():
        alt.renderers.register(NAME, render)
    if alt.renderers.active == "default":
        alt.renderers.enable(NAME)


def altair() -> Any:
    """The altair module, with charts rendering offline (for our own chart functions)."""
    import altair as alt

    enable()
    return alt
