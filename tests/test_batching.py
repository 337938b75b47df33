"""The batcher under concurrent clients, with a model slow enough (20 ms a call) that requests
queue: a model that raises on one batch fails only the request that made it raise, a client
that gives up while queued costs nobody else, and a worker killed mid-batch loses no answered
request from the log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from helpers import call, module_project, wait_for

from mlops_jupyter import serving, tracking
from mlops_jupyter.serving import endpoints, predlog
from mlops_jupyter.serving.batcher import Batcher
from mlops_jupyter.serving.model import ServedModel


def _slow():
    import mlflow

    class Slow(mlflow.pyfunc.PythonModel):
        """x * 2, in 20 ms a call; a row with x == -1 makes the whole call raise."""

        def predict(self, context, model_input, params=None):
            time.sleep(0.02)
            if (model_input["x"] == -1).any():
                raise ValueError("x == -1 is poison")
            return (model_input["x"] * 2).tolist()

    return Slow()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import mlflow

    with module_project(tmp_path_factory, "batching") as root:
        with tracking.run(name="slow", project=root) as run:
            mlflow.pyfunc.log_model(
                name="model", python_model=_slow(), input_example=pd.DataFrame({"x": [1.0, 2.0]})
            )
        tracking.register(run.id, "slow", project=root)
        yield root


def _post(url: str, x: float, request_id: str, timeout: float = 30) -> tuple[int, dict]:
    body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[x]]}}).encode()
    request = urllib.request.Request(
        url + "/invocations", body, {"Content-Type": "application/json", "X-Request-Id": request_id}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _batches(url: str) -> tuple[float, float]:
    """(calls, requests) of mlops_batch_requests: more requests than calls means batches."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "/metrics").read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("mlops_batch_requests_count", "mlops_batch_requests_sum"):
                found[sample.name] = found.get(sample.name, 0) + sample.value
    return found["mlops_batch_requests_count"], found["mlops_batch_requests_sum"]


def test_a_model_raising_on_one_batch_fails_only_its_request(project):
    ep = serving.start("slow/1", name="poison", project=project)
    try:
        assert call(ep.url + "/version")[2]["batching"] == "adaptive batches"
        xs = [-1.0 if i % 10 == 3 else float(i) for i in range(200)]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: _post(ep.url, xs[i], f"p{i}"), range(len(xs))))
        for x, (status, body) in zip(xs, answers, strict=True):
            if x == -1:
                assert status == 500 and "ValueError" in body["message"], body
            else:
                assert (status, body) == (200, {"predictions": [x * 2]})
        calls, requests = _batches(ep.url)
        assert requests == 200 and calls < 200  # requests were predicted together
        log = predlog.read(Path(endpoints.record_of(ep)["log_dir"])).to_pandas().set_index("id")
        assert (log.loc[[f"p{i}" for i in range(200) if xs[i] == -1], "status"] == 500).all()
        assert (log.loc[[f"p{i}" for i in range(200) if xs[i] != -1], "status"] == 200).all()
    finally:
        serving.stop("poison", project=project)


def test_clients_giving_up_while_queued_cost_nobody_else(project):
    ep = serving.start("slow/1", name="impatient", project=project)
    try:

        def impatient(i):
            try:
                return _post(ep.url, float(i), f"gone{i}", timeout=0.01)[0]
            except OSError:  # timed out while its request waited in the queue
                return "gave up"

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(impatient, range(64)))
        assert results.count("gave up") > 0
        assert _post(ep.url, 4.0, "patient") == (200, {"predictions": [8.0]})
        folder = Path(endpoints.record_of(ep)["log_dir"])
        # the server answered each of them all the same, and logged it
        wait_for(lambda: len(predlog.read(folder)) == 65, timeout=20)
        log = predlog.read(folder).to_pandas()
        assert set(log["status"]) == {200}
    finally:
        serving.stop("impatient", project=project)


def test_a_worker_killed_mid_batch_loses_no_answered_request(project):
    ep = serving.start("slow/1", name="killed", workers=2, project=project)
    folder = Path(endpoints.record_of(ep)["log_dir"])
    stop, ok, lock = threading.Event(), [], threading.Lock()

    def client(n):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, _ = _post(ep.url, float(i), f"c{n}-{i}", timeout=5)
            except OSError:
                continue  # the killed worker's connections
            if status == 200:
                with lock:
                    ok.append(f"c{n}-{i}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(ok) > 30, timeout=60)
        workers = _children(ep.pid)
        assert len(workers) >= 2, workers
        os.kill(workers[0], signal.SIGKILL)  # one worker, in the middle of its batches
        seen = len(ok)
        wait_for(lambda: len(ok) > seen + 30, timeout=60)  # the other worker goes on
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        serving.stop("killed", project=project)
    assert len(ok) > 50
    logged = set(predlog.read(folder)["id"].to_pylist())
    assert set(ok) <= logged


def _children(pid: int) -> list[int]:
    """The uvicorn worker processes of an endpoint's server (its Python children)."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout  # fmt: skip
    return [int(line.split()[0]) for line in out.splitlines() if "multiprocessing" in line]


def test_batching_can_be_turned_off(project):
    ep = serving.start("slow/1", name="alone", batching=False, project=project)
    try:
        assert call(ep.url + "/version")[2]["batching"] == "one call per request (batching off)"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: _post(ep.url, float(i), f"a{i}"), range(40)))
        assert answers == [(200, {"predictions": [i * 2.0]}) for i in range(40)]
        assert _batches(ep.url) == (40, 40)  # one call each
    finally:
        serving.stop("alone", project=project)


def _tree(seconds: float = 0.0, slope: float = 3.0) -> ServedModel:
    """A real HistGradientBoostingRegressor behind the fast path; each call notes its thread
    (and sleeps ``seconds``, as a slow model would)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    fitted = HistGradientBoostingRegressor(max_iter=10).fit(X, X[:, 0] * slope)

    class Noted(HistGradientBoostingRegressor):
        threads: list[str] = []

        def predict(self, X):
            self.threads.append(threading.current_thread().name)
            time.sleep(seconds)
            return fitted.predict(X)

    model = ServedModel("tree", "1", "", None, ["a", "b"], ["double", "double"], None, Noted())
    model.batchable = True
    return model


def test_a_lone_request_to_a_quick_model_skips_the_thread_and_a_crowd_shares_a_call():
    model, calls = _tree(), []
    batcher = Batcher(observe=lambda waits: calls.append(len(waits)))

    async def ask(rows):
        return await asyncio.gather(*(batcher.predict(model, ["a", "b"], r, 1) for r in rows))

    rows = [[[float(i)], [0.0]] for i in range(20)]
    asyncio.run(ask(rows[:1]))  # its time not known yet: the thread, which measures it
    assert model.estimator.threads[0].startswith("predict") and model.call_seconds < 1
    alone = []
    for r in rows:  # one at a time, as at one connection
        model.call_seconds = 0.001  # as measured on a quiet machine (a busy one may say more)
        alone += asyncio.run(ask([r]))
    assert set(model.estimator.threads[1:]) == {threading.current_thread().name}  # the loop's
    calls.clear()
    together = asyncio.run(ask(rows))  # 20 at once: the thread, in shared calls
    assert together == alone and len(calls) < 20 and sum(calls) == 20
    assert model.estimator.threads[-1].startswith("predict")
    big = [[float(i) for i in range(100)], [0.0] * 100]  # 100 rows alone: not in the loop
    asyncio.run(batcher.predict(model, ["a", "b"], big, 100))
    assert model.estimator.threads[-1].startswith("predict")


def test_two_models_in_one_batcher_share_each_hop_to_the_thread():
    champion, challenger, hops = _tree(), _tree(slope=-3.0), []
    batcher = Batcher(observe=lambda waits: hops.append(len(waits)))
    models = [champion if i % 10 else challenger for i in range(40)]  # a 10% split
    rows = [[[float(i)], [0.0]] for i in range(40)]

    async def ask(pairs):
        return await asyncio.gather(*(batcher.predict(m, ["a", "b"], r, 1) for m, r in pairs))

    alone = [asyncio.run(ask([pair]))[0] for pair in zip(models, rows, strict=True)]
    champion.estimator.threads.clear()
    challenger.estimator.threads.clear()
    hops.clear()
    together = asyncio.run(ask(zip(models, rows, strict=True)))
    assert together == alone and sum(hops) == 40
    calls = len(champion.estimator.threads) + len(challenger.estimator.threads)
    assert len(challenger.estimator.threads) >= 1 and len(hops) < calls


def test_a_full_queue_refuses_at_once_instead_of_holding_requests():
    from mlops_jupyter.serving.batcher import QueueFull

    model = _tree(seconds=0.2)
    batcher = Batcher(max_waiting=3)

    async def ask():
        return await asyncio.gather(
            *(batcher.predict(model, ["a", "b"], [[float(i)], [0.0]], 1) for i in range(10)),
            return_exceptions=True,
        )

    began = time.perf_counter()
    answers = asyncio.run(ask())
    refused = [a for a in answers if isinstance(a, QueueFull)]
    assert len(refused) == 7 and all(isinstance(a, list) for a in answers[:3])
    assert time.perf_counter() - began < 5  # the three queued only: never ten slow calls


def test_a_slow_model_never_holds_the_event_loop():
    model = _tree(seconds=0.03)  # 30 ms a call: health checks would wait that long
    batcher = Batcher()
    for x in range(3):
        asyncio.run(batcher.predict(model, ["a", "b"], [[float(x)], [0.0]], 1))
    assert threading.current_thread().name not in model.estimator.threads


def test_a_worker_keeps_what_it_loaded_out_of_the_garbage_collector():
    import gc

    from mlops_jupyter.serving.app import settle_heap

    try:
        settle_heap()  # as a worker does once its models are loaded (and again after a reload)
        frozen = gc.get_freeze_count()
        assert frozen > 10 * len(gc.get_objects())  # a full collection walks only the rest
        settle_heap(again=True)
        assert gc.get_freeze_count() >= frozen * 0.9
    finally:
        gc.unfreeze()
