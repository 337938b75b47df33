"""An endpoint's monitoring dashboard: the scorecard and the charts, with a window and a refresh.

``sections`` computes what is shown (a list of displayable objects); ``dashboard`` wraps it in
ipywidgets, in a notebook or on a published Voilà page (which refreshes itself).
"""

from __future__ import annotations

import html
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import MlopsError, first_line
from . import windows

PathLike = str | os.PathLike[str]
STATUS_COLORS = {"pass": "#2ca02c", "warn": "#e6a100", "fail": "#d62728"}


def dashboard_windows() -> list[tuple[str, str | int]]:
    """The windows the dashboard offers, as (label, value)."""
    return windows.choices()


def scorecard_html(card: Any) -> str:
    """The scorecard as an HTML table; every name and evidence escaped (rendered as text)."""
    left = "style='text-align:left'"
    rows = "".join(
        f"<tr><td><span class='mlops-status' style='background:{STATUS_COLORS[c.status]};"
        f"color:white;padding:1px 8px;border-radius:8px'>{c.status.upper()}</span></td>"
        f"<td {left}>{html.escape(c.monitor)}</td><td {left}>{html.escape(c.evidence)}</td></tr>"
        for c in card.checks
    )
    return (
        f"<div class='mlops-scorecard'><h3>Scorecard of {html.escape(card.endpoint)}: "
        f"<span style='color:{STATUS_COLORS[card.status]}'>{card.status.upper()}</span></h3>"
        f"<table><thead><tr><th>status</th><th {left}>monitor</th><th {left}>evidence</th>"
        "</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _note(title: str, text: str) -> Any:
    from IPython.display import HTML

    return HTML(f"<p class='mlops-note'><b>{html.escape(title)}</b>: {html.escape(text)}</p>")


def sections(endpoint: str, window: str | int = "1d", project: PathLike | None = None) -> list[Any]:
    """What the dashboard shows, top to bottom: header, scorecard, drift, ops, quality."""
    from IPython.display import HTML

    from ..serving import endpoints, predlog, resources
    from . import api, charts, labels, monitors, performance, watch

    found = endpoints.get(endpoint, project)  # an unknown endpoint: one clear error
    record = endpoints.record_of(found)
    items: list[Any] = [
        HTML(
            f"<p class='mlops-header'>{html.escape(str(found))}; "
            f"updated {time.strftime('%Y-%m-%d %H:%M:%S')}</p>"
        )
    ]
    card = monitors.build(endpoint, project=project, window=window)
    items.append(HTML(scorecard_html(card)))
    retrained = [str(s) for s in watch.history(endpoint, project) if s.run][-3:]
    if retrained:  # what the watch loop did last: retrained, gated, promoted
        items.append(_note("retrained", " | ".join(retrained)))
    try:
        result, reference, current = api.compare(endpoint, window, project=project)
        items.append(HTML(f"<p>{html.escape(result.summary())}</p>"))
        items.append(charts.drift_bars(result))
        shown = charts.distributions(reference, current)
        if shown is not None:
            items.append(shown)
    except MlopsError as exc:
        items.append(_note("drift", str(exc)))
    folder = Path(record["log_dir"])
    since = time.time() - windows.seconds(window if isinstance(window, str) else "7d")
    log = predlog.read(folder, since, columns=["latency_ms", "status"])  # not the inputs
    if isinstance(window, int):
        log = log.slice(max(0, log.num_rows - window))
    ops = charts.ops_over_time(log, resources.read(folder, since)) if log.num_rows else None
    items.append(ops if ops is not None else _note("ops", f"{endpoint} has no traffic yet"))
    joined = labels.joined(endpoint, project)
    run_metrics = _run_metrics(record, project)
    quality = charts.quality_over_time(joined, run_metrics.get("rmse", run_metrics.get("accuracy")))
    items.append(
        quality
        if quality is not None
        else _note("quality", "no labels yet: add them with %monitor labels")
    )
    try:  # performance before (and beside) the labels
        estimates = performance.estimate(endpoint, window, project=project)
        items.append(charts.estimated(estimates.get("accuracy") or estimates["rmse"]))
    except MlopsError as exc:
        items.append(_note("estimated performance", str(exc)))
    except Exception as exc:  # noqa: BLE001 - the user's model: an estimate must not break the page
        items.append(_note("estimated performance", f"{type(exc).__name__}: {first_line(exc)}"))
    return items


def _run_metrics(record: dict[str, Any], project: PathLike | None) -> dict[str, float]:
    from .. import tracking

    if not record.get("run_id"):
        return {}
    return dict(tracking.client(project).get_run(record["run_id"]).data.metrics)


def dashboard(
    endpoint: str,
    window: str | int = "1d",
    refresh: float | None = None,
    project: PathLike | None = None,
) -> Any:
    """The dashboard as a widget: a window selector, a refresh button, auto-refresh every
    ``refresh`` seconds (when given), and the sections below."""
    import ipywidgets as widgets

    from ..serving import endpoints

    endpoints.get(endpoint, project)  # an unknown endpoint: one clear error, not an empty page
    choice = widgets.Dropdown(options=windows.choices(), value=window, description="window")
    button = widgets.Button(description="refresh", icon="refresh", tooltip="compute again")
    auto = widgets.Checkbox(
        value=bool(refresh), description=f"every {refresh or 60:g} s", indent=False
    )
    status = widgets.HTML()
    out = widgets.Output()
    lock = threading.Lock()

    def draw(*_: Any) -> None:
        with lock:
            status.value = "computing…"
            try:
                shown = sections(endpoint, choice.value, project)
            except MlopsError as exc:
                shown = [_note("dashboard", str(exc))]
            out.outputs = ()  # widget state, not captured output: safe from the refresh thread
            for item in shown:
                out.append_display_data(item)
            status.value = f"updated {time.strftime('%H:%M:%S')}"

    box = widgets.VBox([widgets.HBox([choice, button, auto, status]), out])
    box.add_class("mlops-dashboard")
    choice.observe(draw, names="value")
    button.on_click(draw)
    draw()

    def loop() -> None:
        while getattr(box, "comm", None) is not None:  # until the widget is closed
            time.sleep(refresh or 60)
            if auto.value:
                try:
                    draw()
                except Exception:  # noqa: BLE001,S112 - a failed refresh must not end the loop
                    continue

    threading.Thread(target=loop, name="mlops-dashboard", daemon=True).start()
    return box
