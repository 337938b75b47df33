"""The interactive table: values are text, changed rows are highlighted, filter and sort work."""

from __future__ import annotations

import pandas as pd

from mlops_jupyter.views import table


def test_names_and_messages_are_rendered_as_text():
    frame = pd.DataFrame({"message": ["<script>alert(1)</script>"], "status": ["same"]})
    html = table.to_html(frame)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_rows_are_colored_by_status():
    frame = pd.DataFrame({"column": ["a", "b", "c"], "status": ["added", "removed", "same"]})
    html = table.to_html(frame, status="status")
    assert html.count("background:") == 2
    assert table.STATUS_COLORS["added"] in html and table.STATUS_COLORS["removed"] in html


def test_the_widget_filters_and_sorts():
    frame = pd.DataFrame({"dataset": ["temps_1h", "temps_3h", "prices"], "rows": [8759, 2920, 560]})
    box = table.widget(frame)
    controls, body = box.children[-2], box.children[-1]
    query, sort, descending = controls.children
    query.value = "temps"
    assert "prices" not in body.value and "temps_3h" in body.value
    query.value = ""
    sort.value, descending.value = "rows", True
    assert body.value.index("8759") < body.value.index("2920") < body.value.index("560")
