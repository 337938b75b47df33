"""An interactive table for notebooks: filter box, sort by any column, rows highlighted by status.

Built from ipywidgets alone, so it works in JupyterLab, Notebook and Voilà. Every value is
rendered as escaped text. Outside a kernel (a terminal IPython), tables print as text.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

STATUS_COLORS = {
    "added": "#e6f4ea",
    "removed": "#fce8e6",
    "changed": "#fef7e0",
}
MAX_ROWS = 200


def in_kernel() -> bool:
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class InteractiveFrame(pd.DataFrame):
    """A DataFrame that shows itself as an interactive table; anything derived is a plain one."""

    def _ipython_display_(self) -> None:
        show(pd.DataFrame(self), status=self.attrs.get("status_column"))


def show(frame: Any, status: str | None = None, title: str | None = None) -> None:
    """Display ``frame`` as an interactive table (or text outside a kernel)."""
    from IPython.display import display

    if not in_kernel():
        if title:
            print(title)
        print(frame.to_string(index=False) if len(frame) else "(none)")
        return
    display(widget(frame, status=status, title=title))


def widget(frame: Any, status: str | None = None, title: str | None = None) -> Any:
    """The table as an ipywidgets box; ``status`` names a column whose values color the rows."""
    import ipywidgets as w

    columns = [str(c) for c in frame.columns]
    query = w.Text(placeholder="filter rows", layout=w.Layout(width="16em"))
    sort = w.Dropdown(options=["(order)", *columns], value="(order)", description="sort by")
    descending = w.ToggleButton(value=False, description="descending", icon="sort")
    body = w.HTML()

    def render(*_: Any) -> None:
        view = frame
        if query.value:
            text = view.astype(str).apply(lambda col: col.str.contains(query.value, case=False))
            view = view[text.any(axis=1)]
        if sort.value != "(order)":
            view = view.sort_values(sort.value, ascending=not descending.value, kind="stable")
        body.value = to_html(view, status=status)

    for control in (query, sort, descending):
        control.observe(render, names="value")
    render()
    header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
    return w.VBox([*header, w.HBox([query, sort, descending]), body])


def to_html(frame: Any, status: str | None = None) -> str:
    """An HTML table of ``frame`` with escaped cells; at most MAX_ROWS rows."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    status_at = list(frame.columns).index(status) if status else None
    for record in frame.head(MAX_ROWS).itertuples(index=False):
        values = list(record)
        color = STATUS_COLORS.get(str(values[status_at])) if status_at is not None else None
        style = f' style="background:{color}"' if color else ""
        cells = "".join(f"<td>{html.escape(_text(v))}</td>" for v in values)
        rows.append(f"<tr{style}>{cells}</tr>")
    more = len(frame) - MAX_ROWS
    tail = f"<p>… {more} more rows (filter to narrow)</p>" if more > 0 else ""
    return (
        '<table class="mlops-table" style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{tail}"
    )


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
