"""Row ids of a prediction log, checked on logs Hypothesis makes (any sizes, ids, retries)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_jupyter.monitoring.labels import row_answers

request_ids = st.sampled_from(["r0", "r1", "r2", "a#b", "7"])  # retries reuse ids
records = st.lists(
    st.tuples(
        request_ids,
        st.lists(st.integers(-5, 5), min_size=0, max_size=6),  # the row answers
        st.one_of(st.none(), st.lists(st.sampled_from(["x", "y", "z", "9001"]), max_size=6)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(records)
def test_every_answered_row_has_its_latest_answer_under_each_of_its_ids(log):
    table = pa.table(
        {
            "id": [r[0] for r in log],
            "ts": [float(i) for i in range(len(log))],
            "outputs": pa.array([r[1] for r in log], pa.list_(pa.int64())),
            "row_ids": pa.array([r[2] for r in log], pa.list_(pa.string())),
        }
    )
    expected = {}  # id -> the latest answer, as the module's docstring says
    for request, answers, own in log:
        for n, value in enumerate(answers):
            fits = own is not None and len(own) == len(answers)
            expected[own[n] if fits else f"{request}#{n}"] = value
            if len(answers) == 1:
                expected[request] = value
    rows = row_answers(table)
    assert dict(zip(rows["id"], rows["prediction"], strict=True)) == expected
    assert rows["id"].is_unique and rows["ts"].is_monotonic_increasing


def test_a_log_with_no_answers_has_no_rows():
    empty = pa.table({"id": pa.array([], pa.string()), "ts": pa.array([], pa.float64())})
    assert row_answers(empty.append_column("outputs", pa.array([], pa.list_(pa.int64())))).empty
