"""An interactive table for notebooks: filter box, sort by any column, rows highlighted by status
(and shown by status: all, added, removed, changed), cells that changed highlighted.

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
CHANGED_CELL = "#f9d67a"  # a cell whose value differs from its pair's (before -> after)
MAX_ROWS = 200


def in_kernel() -> bool:
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class InteractiveFrame(pd.DataFrame):
    """A DataFrame that shows itself as an interactive table; anything derived is a plain one."""

    def _ipython_display_(self) -> None:
        show(pd.DataFrame(self), status=self.attrs.get("status_column"))


def show(
    frame: Any,
    status: str | None = None,
    title: str | None = None,
    pairs: list[tuple[str, str]] | None = None,
) -> None:
    """Display ``frame`` as an interactive table (or text outside a kernel); see ``widget``."""
    from IPython.display import display

    if not in_kernel():
        if title:
            print(title)
        print(frame.to_string(index=False) if len(frame) else "(none)")
        return
    display(widget(frame, status=status, title=title, pairs=pairs))


def widget(
    frame: Any,
    status: str | None = None,
    title: str | None = None,
    pairs: list[tuple[str, str]] | None = None,
) -> Any:
    """The table as an ipywidgets box.

    ``status`` names a column whose values color the rows, and whose values (when it has
    several) pick the rows shown; ``pairs`` names (before, after) columns whose cells are
    highlighted where they differ.
    """
    import ipywidgets as w

    columns = [str(c) for c in frame.columns]
    query = w.Text(placeholder="filter rows", layout=w.Layout(width="16em"))
    sort = w.Dropdown(options=["(order)", *columns], value="(order)", description="sort by")
    descending = w.ToggleButton(value=False, description="descending", icon="sort")
    kinds = list(dict.fromkeys(str(v) for v in frame[status])) if status else []
    shown = w.ToggleButtons(options=["all", *kinds], value="all", style={"button_width": "auto"})
    body = w.HTML()

    def render(*_: Any) -> None:
        view = frame
        if shown.value != "all":
            view = view[view[status].astype(str) == shown.value]
        if query.value:
            text = view.astype(str).apply(lambda col: col.str.contains(query.value, case=False))
            view = view[text.any(axis=1)]
        if sort.value != "(order)":
            view = view.sort_values(sort.value, ascending=not descending.value, kind="stable")
        body.value = to_html(view, status=status, pairs=pairs)

    for control in (query, sort, descending, shown):
        control.observe(render, names="value")
    render()
    header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
    choose = [shown] if len(kinds) > 1 else []
    return w.VBox([*header, *choose, w.HBox([query, sort, descending]), body])


def to_html(
    frame: Any, status: str | None = None, pairs: list[tuple[str, str]] | None = None
) -> str:
    """An HTML table of ``frame`` with escaped cells; at most MAX_ROWS rows. In a changed row
    (any row, without ``status``), the cells of a pair that differ are highlighted."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    names = list(frame.columns)
    status_at = names.index(status) if status else None
    paired = [(names.index(a), names.index(b)) for a, b in pairs or ()]
    for record in frame.head(MAX_ROWS).itertuples(index=False):
        values = list(record)
        color = STATUS_COLORS.get(str(values[status_at])) if status_at is not None else None
        style = f' style="background:{color}"' if color else ""
        changed = status_at is None or values[status_at] == "changed"
        marked = {i for p in paired if changed and _differ(*(values[j] for j in p)) for i in p}
        cells = "".join(
            f'<td style="background:{CHANGED_CELL}">{html.escape(_text(v))}</td>'
            if i in marked
            else f"<td>{html.escape(_text(v))}</td>"
            for i, v in enumerate(values)
        )
        rows.append(f"<tr{style}>{cells}</tr>")
    more = len(frame) - MAX_ROWS
    tail = f"<p>… {more} more rows (filter to narrow)</p>" if more > 0 else ""
    return (
        '<table class="mlops-table" style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{tail}"
    )


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def _differ(before: Any, after: Any) -> bool:
    """Two cells of a changed row differ (empty and empty are the same)."""
    if _missing(before) or _missing(after):
        return _missing(before) != _missing(after)
    return bool(before != after)


def _text(value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
