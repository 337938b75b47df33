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


def test_a_row_diff_shows_one_kind_at_a_time_with_its_changed_cells_highlighted():
    frame = pd.DataFrame(
        {
            "diff_type": ["changed", "removed", "added"],
            "id": [1, 2, 3],
            "from_x": [1.0, 2.0, None],
            "to_x": [1.5, None, 3.0],
            "from_y": ["a", "b", None],
            "to_y": ["a", None, "c"],
        }  # fmt: skip
    )
    box = table.widget(frame, status="diff_type", pairs=[("from_x", "to_x"), ("from_y", "to_y")])
    shown, body = box.children[0], box.children[-1]
    assert shown.options == ("all", "changed", "removed", "added")
    # the changed row: x highlighted before and after, y (the same) not; other rows plain
    assert body.value.count(table.CHANGED_CELL) == 2
    assert f'background:{table.CHANGED_CELL}">1.5<' in body.value
    shown.value = "removed"
    assert "<td>2</td>" in body.value and "<td>1</td>" not in body.value
    assert table.CHANGED_CELL not in body.value
    shown.value = "all"
    assert all(f"<td>{k}</td>" in body.value for k in (1, 2, 3))
