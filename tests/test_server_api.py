"""The sidebar's REST API, through a real Jupyter server (pytest-jupyter's fixtures)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import tornado.httpclient
from helpers import git, send, wait_for

from mlops_jupyter import monitoring, tracking
from mlops_jupyter.serving import predlog

API = "mlops-jupyter/api/v1"


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"mlops_jupyter": True}}}


@pytest.fixture
def jp_root_dir(project):
    return project  # the server's root is the project


async def get(jp_fetch, route: str, **params: str):
    response = await jp_fetch(API, route, params=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def post(jp_fetch, route: str, body=None):
    response = await jp_fetch(  # starting an endpoint may take long on a loaded machine
        API, route, method="POST", body=json.dumps(body or {}), request_timeout=120
    )
    return json.loads(response.body)


async def failure(jp_fetch, route: str, method: str = "GET", body: str | None = None, **kw):
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch(API, route, method=method, body=body, **kw)
    answer = json.loads(raised.value.response.body)
    return raised.value.code, answer["message"]


def listing(*command: str) -> list[str]:
    """The lines ``jupyter COMMAND`` prints (both streams), without colours."""
    jupyter = Path(sys.executable).with_name("jupyter")
    out = subprocess.run([jupyter, *command], capture_output=True, text=True)
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr).splitlines()


def test_both_extensions_are_enabled_on_install():
    servers = listing("server", "extension", "list")
    assert any(line.split() == ["mlops_jupyter", "enabled"] for line in servers), servers
    line = next(x for x in listing("labextension", "list") if "mlops-jupyter" in x)
    assert "enabled OK (python, mlops-jupyter)" in line


async def test_what_the_sidebar_reads(jp_fetch, endpoint, project, monkeypatch):
    status = await get(jp_fetch, "status")
    assert status["project"] == str(project) and status["name"] == "project"

    datasets = await get(jp_fetch, "datasets")
    assert [d["name"] for d in datasets] == ["features"]
    version = datasets[0]["versions"][0]
    assert version["ref"] == "features@v1" and version["rows"] == 2000 and version["size"] > 0

    page = await get(jp_fetch, "runs")
    assert [r["name"] for r in page["runs"]] == ["fit"] and page["next_page_token"] is None
    details = await get(jp_fetch, f"runs/{page['runs'][0]['run']}")
    assert details["name"] == "fit" and details["status"] == "FINISHED"
    assert details["datasets"] == [{"ref": "features@v1", "context": "training"}]
    assert details["source"]["commit"] == git(project, "rev-parse", "HEAD")
    assert details["histories"] == {}  # one point per metric: nothing to chart

    models = await get(jp_fetch, "models")
    assert models[0]["name"] == "m" and models[0]["aliases"] == {"champion": 1}

    endpoints = await get(jp_fetch, "endpoints")
    assert [e["endpoint"] for e in endpoints] == ["m"] and endpoints[0]["url"] == endpoint.url

    # the endpoint's lineage, back to the data its model learned from
    graph = await get(jp_fetch, "lineage", ref="m", direction="up")
    assert sorted(n["kind"] for n in graph["nodes"]) == ["data", "endpoint", "model", "run"]
    assert {"source": "model:m/1", "target": "endpoint:m"} in graph["edges"]
    code, message = await failure(jp_fetch, "lineage", params={"ref": "nope"})
    assert code == 404 and message.startswith("nothing named 'nope' in the lineage")

    computed = []  # scorecards computed (the real ones)
    real = monitoring.scorecard
    monkeypatch.setattr(
        monitoring, "scorecard", lambda *a, **k: computed.append(a) or real(*a, **k)
    )
    monitors = await get(jp_fetch, "monitors")
    assert monitors[0]["endpoint"] == "m" and monitors[0]["status"] in {"pass", "warn", "fail"}
    assert len(monitors[0]["checks"]) == 7 and monitors[0]["dashboard"] is None
    # kept while nothing it reads changes (the first card's own probes of the model aside)
    kept = await get(jp_fetch, "monitors")
    settled = len(computed)
    assert await get(jp_fetch, "monitors") == kept and len(computed) == settled <= 2
    send(endpoint.url, pd.DataFrame({"a": [0.1], "b": [0.2], "c": [0.3]}))
    folder = monitoring.api.log_folder("m", project)
    wait_for(lambda: len(predlog.read(folder)) == 1)  # monitoring's probes are not read
    await get(jp_fetch, "monitors")
    assert len(computed) == settled + 1  # new traffic: computed again

    # the endpoint's view: its traffic, its last requests (newest first), its scorecard
    seen = await get(jp_fetch, "endpoints/m", scorecard="1")
    assert seen["model"] == "m" and seen["version"] == "1" and seen["url"] == endpoint.url
    assert seen["traffic"]["requests"] >= 1 and seen["traffic"]["errors"] == 0
    newest = seen["requests"][0]
    assert newest["status"] == 200 and newest["latency_ms"] > 0 and newest["outputs"] == "1"
    card = (await get(jp_fetch, "monitors"))[0]
    assert seen["scorecard"] == {k: v for k, v in card.items() if k != "dashboard"}
    assert "scorecard" not in await get(jp_fetch, "endpoints/m")  # only when asked: it costs
    code, message = await failure(jp_fetch, "endpoints/nope")
    assert code == 404 and message.startswith("no endpoint")


async def test_runs_are_paged_sorted_and_filtered(jp_fetch, project):
    for alpha in (0.1, 0.2, 0.3):
        with tracking.run(name=f"r{alpha}", params={"alpha": alpha}) as run:
            run.log_metric("rmse", 1 - alpha)
    first = await get(jp_fetch, "runs", max_results="2", order="metrics.rmse ASC")
    assert [r["metrics.rmse"] for r in first["runs"]] == [0.7, 0.8]
    assert first["metrics"] == ["rmse"] and first["params"] == ["alpha"]
    assert first["experiments"] == ["Default"]
    rest = await get(jp_fetch, "runs", max_results="2", order="metrics.rmse ASC",
                     page_token=first["next_page_token"])  # fmt: skip
    assert [r["name"] for r in rest["runs"]] == ["r0.1"] and rest["next_page_token"] is None
    with tracking.run(name="curve") as run:  # a metric with steps: its history, for a chart
        for step in range(1200):
            run.log_metric("loss", 1 / (step + 1), step=step)
    curve = (await get(jp_fetch, "runs/curve"))["histories"]["loss"]
    assert len(curve) <= 501 and curve[0] == [0, 1.0] and curve[-1] == [1199, 1 / 1200]
    assert [s for s, _ in curve] == sorted(s for s, _ in curve)
    only = await get(jp_fetch, "runs", filter="params.alpha = '0.2'")
    assert [r["name"] for r in only["runs"]] == ["r0.2"]
    code, message = await failure(jp_fetch, "runs", params={"filter": "metrics.rmse <<< 1"})
    assert code == 400 and message.startswith("bad run filter or order")

    # runs side by side: the parameters that differ named, histories only when asked
    listed = (await get(jp_fetch, "runs"))["runs"]
    ids = [r["id"] for r in listed if r["name"] in ("r0.1", "r0.2", "curve")]
    assert all(len(r["id"]) == 32 and r["id"].startswith(r["run"]) for r in listed)
    side = await get(jp_fetch, "compare", runs=",".join([*ids, ids[0]]))  # once each
    assert [r["name"] for r in side["runs"]] == ["curve", "r0.2", "r0.1"]
    assert side["params"] == ["alpha"] and side["differ"] == ["alpha"]
    assert side["metrics"] == ["loss", "rmse"] and "histories" not in side
    assert (
        side["runs"][1]["params"] == {"alpha": "0.2"} and side["runs"][1]["metrics"]["rmse"] == 0.8
    )
    curves = await get(jp_fetch, "compare", runs=f"curve,{ids[1][:8]}", histories="1")
    assert list(curves["histories"]) == ["loss"] and list(curves["histories"]["loss"]) == [ids[0]]
    for runs, said in [
        ("curve", "choose two runs or more"),
        (f"curve,{ids[0]}", "choose two runs or more"),  # the same run, named twice
        ("curve,nope", "no run 'nope'"),
        (",".join(["curve"] * 1001), "1001 runs is too many to compare"),
    ]:
        code, message = await failure(jp_fetch, "compare", params={"runs": runs})
        assert code in (400, 404) and message.startswith(said), message


async def test_actions_promote_and_serve(jp_fetch, endpoint, project):
    run = tracking.get_run("fit")
    tracking.register(run.info.run_id, "m")  # version 2, no alias yet
    model = await post(jp_fetch, "models/m/aliases", {"alias": "champion", "version": 2})
    assert model["aliases"] == {"champion": 2}
    assert [v["aliases"] for v in model["versions"]] == [["champion"], []]

    started = await post(jp_fetch, "endpoints", {"model": "m/1", "name": "m-old"})
    assert started["name"] == "m-old" and started["url"].startswith("http://127.0.0.1:")
    names = {e["endpoint"] for e in await get(jp_fetch, "endpoints")}
    assert names == {"m", "m-old"}
    assert (await post(jp_fetch, "endpoints/m-old/stop"))["action"] == "stop"
    assert [e["endpoint"] for e in await get(jp_fetch, "endpoints")] == ["m"]
    reloaded = await post(jp_fetch, "endpoints/m/reload")
    assert reloaded["version"] == "2"  # it follows @champion

    published = await post(jp_fetch, "monitors/m/publish")
    assert published["url"].startswith("http://127.0.0.1:")
    assert (await get(jp_fetch, "monitors"))[0]["dashboard"] == published["url"]
    assert (await post(jp_fetch, "monitors/m/unpublish"))["url"] is None


async def test_errors_are_json_with_a_readable_message(jp_fetch, project):
    assert await failure(jp_fetch, "runs/nope") == (404, await _message_of_missing_run(project))
    code, message = await failure(jp_fetch, "models/m/aliases", "POST", "{not json")
    assert code == 400 and message.startswith("the request body is not JSON")
    code, message = await failure(jp_fetch, "models/m/aliases", "POST", json.dumps({"alias": "x"}))
    assert code == 400 and "version" in message
    code, message = await failure(jp_fetch, "endpoints/ghost/stop", "POST", "{}")
    assert code == 404 and "no endpoint 'ghost' is running" in message
    code, message = await failure(jp_fetch, "endpoints", "POST", json.dumps({"model": "nope@x"}))
    assert code in (400, 404) and "nope" in message


async def _message_of_missing_run(project) -> str:
    from mlops_jupyter.errors import MlopsError

    with pytest.raises(MlopsError) as raised:
        tracking.get_run("nope", project=project)
    return str(raised.value)


async def test_paths_never_leave_the_server_root(jp_fetch, project):
    code, message = await failure(jp_fetch, "datasets", params={"path": "../.."})
    assert code == 403 and "outside" in message
    code, message = await failure(jp_fetch, "status", params={"path": "/etc"})  # is root/etc
    assert code == 404 and message == "no folder '/etc' in the server's root"
    (project / "sub").mkdir()
    inside = await get(jp_fetch, "status", path="sub")  # a folder of the project: its project
    assert inside["project"] == str(project)


class TestAServerRootInsideAProject:
    @pytest.fixture
    def jp_root_dir(self, repo):
        (repo / "notebooks").mkdir()
        return repo / "notebooks"  # `jupyter lab` started in a repository's subfolder

    async def test_the_project_above_the_root_is_refused(self, jp_fetch, repo):
        for route in ("status", "datasets", "endpoints"):
            code, message = await failure(jp_fetch, route)
            assert code == 403 and f"belongs to the git repository at {repo}" in message
        code, _ = await failure(jp_fetch, "endpoints", "POST", json.dumps({"model": "m@x"}))
        assert code == 403
        assert not (repo / ".mlops").exists()  # nothing was made above the root


async def test_a_request_without_a_token_is_refused(jp_fetch, http_server_client, jp_base_url):
    for method, route, body in (("GET", "datasets", None), ("POST", "endpoints", b"{}")):
        with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
            await http_server_client.fetch(f"{jp_base_url}{API}/{route}", method=method, body=body)
        assert raised.value.code == 403


async def test_a_version_s_diff_rows_of_a_table_files_of_a_folder(jp_fetch, project):
    from mlops_jupyter import datasets

    table = project / "prices.csv"
    for text in ("id,price\n1,10\n2,20\n3,30\n", "id,price\n1,10\n2,25\n4,40\n"):
        table.write_text(text)
        datasets.add(table, project=project)
    folder = project / "images"
    folder.mkdir()
    (folder / "cat.png").write_bytes(b"cat")
    (folder / "dog.png").write_bytes(b"dog")
    datasets.add(folder, project=project)
    (folder / "dog.png").unlink()
    (folder / "owl.png").write_bytes(b"owl!")
    datasets.add(folder, project=project)

    listed = {d["name"]: d["versions"] for d in await get(jp_fetch, "datasets")}
    assert [v["change"] for v in listed["prices"]] == [
        "same shape, values changed",
        "first version",
    ]
    assert listed["images"][0]["change"] == "same file count, content changed"

    rows = await get(jp_fetch, "datasets/prices@v2/diff")
    assert rows["summary"] == (
        "prices@v1 -> prices@v2: +1 row, -1 row, 1 row changed in price (key: id, unique in both versions)"
    )
    assert rows["counts"] == {"added": 1, "removed": 1, "changed": 1} and rows["total"] == 3
    assert rows["pairs"] == [["from_price", "to_price"]]
    changed = next(r for r in rows["rows"] if r["diff_type"] == "changed")
    assert (changed["id"], changed["from_price"], changed["to_price"]) == (2, 20, 25)
    files = await get(jp_fetch, "datasets/images@v2/diff")
    assert {(r["path"], r["status"], r["size_b"]) for r in files["rows"]} == {
        ("owl.png", "added", 4),
        ("dog.png", "deleted", None),
    }
    assert files["counts"] == {"added": 1, "deleted": 1, "modified": 0, "renamed": 0}
    assert (await get(jp_fetch, "datasets/prices@v2/diff", **{"from": "prices@v2"}))["total"] == 0

    # what cannot be compared is one line, as JSON
    assert await failure(jp_fetch, "datasets/prices@v1/diff") == (
        400,
        "prices@v1 is the first version; name two versions to compare",
    )
    code, message = await failure(jp_fetch, "datasets/nope@v1/diff")
    assert code == 404 and "nope" in message
