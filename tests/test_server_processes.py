"""The background servers' processes: started at once they never collide on a port, and a
record is proven to name our process before any signal is sent to its number."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import FEATURES, call, train_classifier

from mlops_jupyter import serving
from mlops_jupyter.errors import NotFoundError
from mlops_jupyter.monitoring import publish
from mlops_jupyter.netutil import kill_child, process_started
from mlops_jupyter.serving import endpoints


def test_three_endpoints_started_at_the_same_moment_all_start(project):
    train_classifier(project)
    names = ["one", "two", "three"]
    try:
        with ThreadPoolExecutor(3) as pool:  # each parent sees the same first free port
            started = list(pool.map(lambda n: serving.start("clf@champion", name=n), names))
        assert len({e.url for e in started}) == 3
        body = json.dumps({"dataframe_records": [dict.fromkeys(FEATURES, 0.0)]}).encode()
        for endpoint in started:
            status, _, answer = call(f"{endpoint.url}/invocations", body)
            assert status == 200 and len(answer["predictions"]) == 1
            assert endpoints.record_of(endpoint)["port"] == int(endpoint.url.rsplit(":", 1)[1])
        assert sorted(e.name for e in endpoints.endpoints()) == sorted(names)
    finally:
        for endpoint in endpoints.endpoints():  # those that started, whatever failed
            serving.stop(endpoint.name)


@pytest.fixture
def stranger():
    """An unrelated process leading its own group: what a stale record's pid may be now."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            start_new_session=True)  # fmt: skip
    yield proc
    kill_child(proc)


def test_a_stale_endpoint_record_never_signals_a_process_that_reused_its_pid(project, stranger):
    folder = project / ".mlops" / "endpoints"
    folder.mkdir(parents=True)
    started = process_started(stranger.pid)
    base = {"name": "ghost", "host": "127.0.0.1", "port": 9, "model": "m", "version": "1",
            "pid": stranger.pid, "started": time.time() - 3600}  # fmt: skip
    for record in ({**base, "pid_started": started - 3600}, base):  # reused; an old record
        (folder / "ghost.json").write_text(json.dumps(record))
        with pytest.raises(NotFoundError, match="no endpoint 'ghost' is running"):
            serving.stop("ghost")
        assert not (folder / "ghost.json").exists()  # the stale record is cleaned up
        endpoints.kill_group(stranger.pid, record.get("pid_started"))  # asked outright: no
        time.sleep(0.2)
        assert stranger.poll() is None, "an unrelated process was signalled"


def test_a_stale_dashboard_record_never_signals_a_process_that_reused_its_pid(project, stranger):
    folder = project / ".mlops" / "dashboards"
    folder.mkdir(parents=True)
    record = {"endpoint": "ghost", "url": "http://127.0.0.1:9/", "pid": stranger.pid,
              "pid_started": process_started(stranger.pid) - 60, "notebook": "x.ipynb",
              "log": "x.log", "started": time.time()}  # fmt: skip
    (folder / "ghost.json").write_text(json.dumps(record))
    with pytest.raises(NotFoundError, match="no dashboard of 'ghost' is published"):
        publish.stop("ghost")
    assert stranger.poll() is None
