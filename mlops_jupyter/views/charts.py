"""altair charts of runs: a metric across runs, and metric histories side by side."""

from __future__ import annotations

from typing import Any

from ..errors import MlopsError
from . import vega


def metric_across_runs(frame: Any, metric: str) -> Any:
    """One point per run (oldest to newest) of ``metric``, coloured by status."""
    alt = vega.altair()

    column = metric if metric.startswith("metrics.") else f"metrics.{metric}"
    if column not in frame.columns:
        known = [c.removeprefix("metrics.") for c in frame.columns if c.startswith("metrics.")]
        raise MlopsError(f"no run shown logged {metric!r}; metrics: {', '.join(known) or 'none'}")
    data = frame[["run", "name", "status", "started", column]].rename(columns={column: "value"})
    return (
        alt.Chart(data.dropna(subset=["value"]), title=f"{column.removeprefix('metrics.')} by run")
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("started:T", title="started"),
            y=alt.Y("value:Q", title=column.removeprefix("metrics."), scale=alt.Scale(zero=False)),
            color="status:N",
            tooltip=["run", "name", "status", "value"],
        )
        .properties(width=480, height=220)
        .interactive()
    )


def metric_histories(history: Any) -> Any:
    """Each metric's points over steps, one line per run, one panel per metric."""
    alt = vega.altair()

    return (
        alt.Chart(history)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q"),
            y=alt.Y("value:Q", scale=alt.Scale(zero=False)),
            color="run:N",
            tooltip=["run", "metric", "step", "value"],
        )
        .properties(width=260, height=160)
        .facet(facet="metric:N", columns=3)
        .resolve_scale(y="independent")
    )
