"""altair charts of an endpoint: drift per column, distributions, ops and quality over time.

Each chart is built from a small aggregate (bins, time buckets), never from raw rows, so it stays
light in the notebook file however much traffic there was.
"""

from __future__ import annotations

import math
from typing import Any

from ..views import vega
from .statistics import ColumnDrift, DriftReport

VERDICT_COLORS = {"drifted": "#d62728", "stable": "#2ca02c", "too few rows": "#7f7f7f"}


def drift_score(column: ColumnDrift) -> float:
    """The column's statistic against its threshold: 1 is the threshold, above it drifted.

    Distances are divided by their threshold; p-values are compared on a log scale.
    """
    if math.isnan(column.statistic):
        return 0.0
    if column.method.endswith("p-value"):
        p = max(column.statistic, 1e-300)
        return math.log10(p) / math.log10(column.threshold)
    return column.statistic / column.threshold


def drift_bars(result: DriftReport) -> Any:
    """One bar per column (and the predictions), its drift score; the rule at 1 is the threshold."""
    import pandas as pd

    alt = vega.altair()
    rows = [
        {
            "column": c.column if role == "input" else f"{c.column} (output)",
            "score": round(drift_score(c), 4),
            "verdict": "too few rows"
            if c.method == "too few rows"
            else ("drifted" if c.drifted else "stable"),
            "method": c.method,
            "statistic": c.statistic,
            "threshold": c.threshold,
            "psi": c.psi,
        }
        for role, cs in (("input", result.columns), ("output", [result.output]))
        for c in cs
        if c is not None
    ]
    frame = pd.DataFrame(rows)
    colors = alt.Scale(domain=list(VERDICT_COLORS), range=list(VERDICT_COLORS.values()))
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("score:Q", title="drift score (1 = threshold)"),
            y=alt.Y("column:N", sort=None, title=None),
            color=alt.Color("verdict:N", scale=colors),
            tooltip=["column", "method", "statistic", "threshold", "psi", "verdict"],
        )
    )
    rule = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    title = f"drift against {result.reference or 'the reference'}: {result.share_drifted:.0%}"
    return (bars + rule).properties(title=title, width=420, height=18 * len(frame) + 20)


def distributions(reference: Any, current: Any, columns: list[str] | None = None) -> Any:
    """Reference against current, per column: histograms (numbers) or category shares."""
    import numpy as np
    import pandas as pd

    alt = vega.altair()
    names = columns or [c for c in current.columns if c in reference.columns][:8]
    numeric, categorical = [], []
    for name in names:
        ref, cur = reference[name].dropna(), current[name].dropna()
        if len(ref) == 0 or len(cur) == 0:
            continue
        if ref.dtype.kind in "fiu" and cur.dtype.kind in "fiu" and ref.nunique() > 10:
            low, high = np.quantile(np.concatenate([ref, cur]), [0.005, 0.995])
            edges = np.linspace(low, high, 31) if high > low else np.array([low - 0.5, low + 0.5])
            for sample, values in (("reference", ref), ("current", cur)):
                counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), edges)
                numeric += [
                    {
                        "column": name,
                        "sample": sample,
                        "start": a,
                        "end": b,
                        "share": n / len(values),
                    }
                    for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)
                ]
        else:
            top = ref.astype(str).value_counts().index[:10]
            for sample, values in (("reference", ref), ("current", cur)):
                shares = values.astype(str).value_counts(normalize=True)
                categorical += [
                    {"column": name, "sample": sample, "value": v, "share": float(shares.get(v, 0))}
                    for v in top
                ]
    charts = []
    if numeric:
        charts.append(
            alt.Chart(pd.DataFrame(numeric))
            .mark_area(opacity=0.45, interpolate="step")
            .encode(
                x=alt.X("start:Q", title=None),
                y=alt.Y("share:Q", stack=None, title="share"),
                color=alt.Color("sample:N", sort=["reference", "current"]),
                tooltip=["column", "sample", "start", "end", "share"],
            )
            .properties(width=200, height=110)
            .facet(facet=alt.Facet("column:N", title=None), columns=3)
            .resolve_scale(x="independent", y="independent")
        )
    if categorical:
        charts.append(
            alt.Chart(pd.DataFrame(categorical))
            .mark_bar()
            .encode(
                x=alt.X("value:N", title=None, sort=None),
                xOffset=alt.XOffset("sample:N", sort=["reference", "current"]),
                y=alt.Y("share:Q"),
                color=alt.Color("sample:N", sort=["reference", "current"]),
                tooltip=["column", "sample", "value", "share"],
            )
            .properties(width=200, height=110)
            .facet(facet=alt.Facet("column:N", title=None), columns=3)
            .resolve_scale(x="independent")
        )
    if not charts:
        return None
    return alt.vconcat(*charts).properties(title="distributions: reference against current")


def _bucket_seconds(span: float) -> float:
    for seconds in (10, 60, 300, 900, 3600, 4 * 3600, 86400):
        if span / seconds <= 60:
            return seconds
    return 86400.0


def ops_over_time(log: Any, samples: Any = None) -> Any:
    """p95 latency, error rate and requests per second over time; CPU and memory when sampled."""
    import numpy as np
    import pandas as pd

    alt = vega.altair()
    frame = pd.DataFrame(
        {
            "ts": np.asarray(log["ts"].to_pylist(), dtype=float),
            "latency_ms": np.asarray(log["latency_ms"].to_pylist(), dtype=float),
            "error": np.asarray(log["status"].to_pylist()) >= 500,
        }
    )
    if frame.empty:
        return None
    step = _bucket_seconds(frame["ts"].max() - frame["ts"].min())
    frame["time"] = pd.to_datetime((frame["ts"] // step) * step, unit="s")
    by = frame.groupby("time")
    every = pd.date_range(frame["time"].min(), frame["time"].max(), freq=f"{step:g}s")
    long = [  # a bucket without requests: no latency or error rate, and zero requests
        by["latency_ms"].quantile(0.95).reindex(every).rename("p95 latency (ms)"),
        by["error"].mean().mul(100).reindex(every).rename("server errors (%)"),
        by.size().div(step).reindex(every, fill_value=0).rename("requests per second"),
    ]
    if samples is not None and len(samples):
        sampled = samples.assign(time=pd.to_datetime((samples["ts"] // step) * step, unit="s"))
        per = sampled.groupby("time")
        long += [
            per["cpu_percent"].mean().rename("CPU (%)"),
            per["rss_mb"].mean().rename("memory (MB)"),
        ]
    data = pd.concat(
        [s.rename_axis("time").reset_index().melt("time", var_name="metric") for s in long]
    ).dropna()
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y("value:Q", title=None),
            tooltip=["metric", "time:T", alt.Tooltip("value:Q", format=".3~f")],
        )
        .properties(width=260, height=110)
        .facet(facet=alt.Facet("metric:N", title=None), columns=3)
        .resolve_scale(y="independent")
        .properties(title=f"ops, per {step / 60:g} min" if step >= 60 else f"ops, per {step:g} s")
    )


def quality_over_time(joined: Any, run_metric: float | None = None) -> Any:
    """Accuracy (classes) or RMSE (numbers) of labelled rows over time, and the run's own."""
    import numpy as np
    import pandas as pd

    alt = vega.altair()
    if joined is None or not len(joined):
        return None
    frame = joined.copy()
    step = _bucket_seconds(float(frame["ts"].max() - frame["ts"].min()))
    frame["time"] = pd.to_datetime((frame["ts"] // step) * step, unit="s")
    regression = frame["label"].dtype.kind == "f" and frame["label"].nunique() > 20
    if regression:
        frame["error"] = (frame["label"] - frame["prediction"]) ** 2
        series = frame.groupby("time")["error"].mean().pow(0.5)
        metric = "RMSE"
    else:
        frame["right"] = (frame["label"] == frame["prediction"]).astype(float)
        series = frame.groupby("time")["right"].mean()
        metric = "accuracy"
    data = series.rename("value").reset_index().assign(labelled=frame.groupby("time").size().values)
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            tooltip=["time:T", alt.Tooltip("value:Q", format=".4f"), "labelled"],
        )
    )
    if run_metric is not None and np.isfinite(run_metric):
        line = line + alt.Chart(pd.DataFrame({"value": [run_metric]})).mark_rule(
            strokeDash=[4, 4], color="gray"
        ).encode(y="value:Q")
    return line.properties(
        title=f"{metric} of labelled rows (dashed: the run's)", width=420, height=140
    )


def estimated(estimation: Any) -> Any:
    """An estimated metric per window: the estimate and its band, the realized metric where
    labels arrived, and the reference's alert limits (dashed)."""
    import pandas as pd

    from .estimation import NAMES

    alt = vega.altair()
    frame = estimation.frame()
    frame["rows"] = frame["start"].astype(str) + "-" + frame["end"].astype(str)
    name = NAMES.get(estimation.metric, estimation.metric)
    x = alt.X("start:Q", title="row of the window")
    band = alt.Chart(frame).mark_area(opacity=0.25).encode(x=x, y="low:Q", y2="high:Q")
    line = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("estimate:Q", title=name, scale=alt.Scale(zero=False)),
            tooltip=["rows", alt.Tooltip("estimate:Q", format=".4f"), "alert"],
        )
    )
    chart = band + line
    realized = frame.dropna(subset=["realized"])
    if len(realized):
        chart = chart + alt.Chart(realized).mark_point(color="black", shape="diamond").encode(
            x=x, y="realized:Q", tooltip=["rows", alt.Tooltip("realized:Q", format=".4f")]
        )
    limits = [v for v in (estimation.lower, estimation.upper) if v is not None]
    if limits:
        chart = chart + alt.Chart(pd.DataFrame({"limit": limits})).mark_rule(
            strokeDash=[4, 4], color="gray"
        ).encode(y="limit:Q")
    return chart.properties(
        title=f"{name} estimated without labels (band: ± 3 sampling errors; diamonds: realized; "
        "dashed: alert limits)",
        width=420,
        height=140,
    )
