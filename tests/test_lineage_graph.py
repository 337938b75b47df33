"""The lineage graph: data versions -> runs -> model versions -> endpoints -> monitors."""

from __future__ import annotations

import pytest

from mlops_jupyter import datasets, tracking
from mlops_jupyter.errors import MlopsError, NotFoundError
from mlops_jupyter.tracking import lineage

ODD_NAME = "<b>run & co</b>"


def test_from_a_prediction_back_to_its_data_and_from_data_forward(project, endpoint):
    with tracking.run(name=ODD_NAME, project=project):  # reads the data, makes no model
        datasets.load("features@v1", project=project)
    lineage.forget()  # a new session: nothing loaded before the next run
    with tracking.run(name="idle", project=project):  # touches no data: not lineage
        pass

    graph = lineage.graph(project=project)
    fit = tracking.get_run("fit", project=project).info.run_id
    assert {"data:features@v1", f"run:{fit}", "model:m/1", "endpoint:m", "monitor:m"} <= set(
        graph.nodes
    )
    assert all(n.label != "idle" for n in graph.nodes.values())
    assert graph.nodes["model:m/1"].detail == "@champion"

    # the endpoint's answers came from m v1, trained by fit on features@v1
    back = lineage.graph("m", direction="up", project=project)
    assert set(back.nodes) == {"endpoint:m", "model:m/1", f"run:{fit}", "data:features@v1"}
    assert (f"run:{fit}", "model:m/1") in back.edges
    # the data reached both runs that read it, the model, the endpoint and its monitor
    forward = lineage.graph("features@v1", direction="down", project=project)
    assert {n.label for n in forward.nodes.values() if n.kind == "run"} == {"fit", ODD_NAME}
    assert {"endpoint:m", "monitor:m"} <= set(forward.nodes)
    assert graph.find(fit[:8]).id == f"run:{fit}"  # a run by its id's prefix, or its name
    assert graph.find("fit").id == f"run:{fit}"

    # in a notebook: a picture, its names as text
    picture = graph._repr_svg_()
    assert picture.startswith("<svg") and picture.count("<rect") == len(graph.nodes)
    assert "<b>" not in picture and "&lt;b&gt;run &amp; co&lt;/b&gt;" in picture
    assert repr(back) == "<lineage Graph: 1 data, 1 run, 1 model, 1 endpoint; 3 edges>"


def test_a_name_not_in_the_lineage_says_what_can_be_named(project):
    with pytest.raises(NotFoundError, match="nothing named 'nope' in the lineage; name a data"):
        lineage.graph("nope", project=project)
    with pytest.raises(MlopsError, match="direction is one of up, down, both; not 'left'"):
        lineage.graph("x", direction="left", project=project)
    assert repr(lineage.graph(project=project)) == "<lineage Graph: empty; 0 edges>"
