"""Adaptive batching: concurrent requests for one model become one ``predict`` call.

A model spends most of a small prediction in per-call overhead (a tree ensemble: ~1 ms for one
row or for 64), so requests that wait together are predicted together. Predictions run in one
thread beside the event loop; the requests that arrive while one runs are queued, and when it
ends the queue is the next batch, one call per model (up to ``max_rows`` rows each): under
load batches grow by themselves. A
small request alone (none queued with it once the event loop has run what was ready) for a
quick model is predicted at once in the event loop, without the thread hop. The queue is
bounded (``MAX_WAITING``): a full one refuses at once. During a trial the challenger has a
batcher and a thread of its own, so that however slow or hung it is, the champion's answers
never wait for it. Each request keeps
its own rows of the answer; a batch that fails is predicted again request by request, so that a
bad request fails alone.

Models whose batch predictions differ from their one-row predictions (checked at load on the
model's input example), compiled linear models (microseconds per call) and endpoints started
with batching off (``max_rows`` 0) are predicted one call per request, in the event loop.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .model import ServedModel


@dataclass
class _Waiting:
    model: ServedModel
    names: list[str]
    columns: list[list[Any]]
    rows: int
    future: asyncio.Future = field(repr=False)
    queued: float = field(default_factory=time.perf_counter)


MAX_ROWS = 256  # rows in one batch (0: batching off, one call per request)
# Requests waiting for the thread at most: beyond, a request is refused at once (503) rather
# than held in memory behind a model that cannot keep up.
MAX_WAITING = 4096


class QueueFull(Exception):
    """The model's queue holds ``MAX_WAITING`` requests already."""


# A request alone is predicted in the event loop when it is small and its model's calls take
# less than this (a slower call would keep the loop from health checks and new requests; the
# hop to the thread and back costs a pandas Pipeline's call 5-15%).
INLINE_SECONDS = 0.02
INLINE_ROWS = 64


class Batcher:
    """One per worker: ``await batcher.predict(model, names, columns, rows)``."""

    def __init__(
        self,
        max_rows: int = MAX_ROWS,
        observe: Any = None,
        max_waiting: int = MAX_WAITING,
        name: str = "predict",
    ):
        self.max_rows = max_rows
        self.max_waiting = max_waiting
        self.observe = observe  # observe(queue_seconds of each request in one call): /metrics
        self._queue: list[_Waiting] = []
        self._running = False
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)

    async def predict(
        self, model: ServedModel, names: list[str], columns: list[list[Any]], rows: int
    ) -> list[Any]:
        if self.max_rows < 1 or not model.batchable or model.compiled == "linear":
            if self.observe:
                self.observe([0.0])
            return model.predict(columns, names)
        if len(self._queue) >= self.max_waiting:
            raise QueueFull(f"{len(self._queue)} requests are waiting for {model.name}")
        loop = asyncio.get_running_loop()
        waiting = _Waiting(model, names, columns, rows, loop.create_future())
        self._queue.append(waiting)
        if self._running:
            return await waiting.future
        self._running = True
        if model.call_seconds < INLINE_SECONDS and rows <= INLINE_ROWS:
            for _ in range(2):  # the loop reads what arrived meanwhile, then runs the requests
                await asyncio.sleep(0)  # it made (queued behind this one's first turn)
            if len(self._queue) == 1:
                return self._alone(waiting)
        loop.create_task(self._drain())
        return await waiting.future

    def _alone(self, waiting: _Waiting) -> list[Any]:
        """A quick model's request with none queued with it: predicted here, in the event loop
        (the hop to the thread and back cost a tenth of its time)."""
        self._queue.clear()
        try:
            if self.observe:
                self.observe([time.perf_counter() - waiting.queued])
            started = time.perf_counter()
            outputs = waiting.model.predict(waiting.columns, waiting.names)
            waiting.model.call_seconds = time.perf_counter() - started
            return outputs
        finally:
            self._running = False

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                groups = self._next_groups()
                if self.observe:
                    now = time.perf_counter()
                    self.observe([now - w.queued for group in groups for w in group])
                try:
                    results = await loop.run_in_executor(self._pool, _predict_groups, groups)
                except Exception as exc:  # noqa: BLE001 - never leave a request waiting forever
                    results = [[(False, exc)] * len(group) for group in groups]
                for group, answers in zip(groups, results, strict=True):
                    for waiting, (ok, value) in zip(group, answers, strict=True):
                        if waiting.future.done():  # the client went away meanwhile
                            continue
                        if ok:
                            waiting.future.set_result(value)
                        else:
                            waiting.future.set_exception(value)
        finally:
            self._running = False

    def _next_groups(self) -> list[list[_Waiting]]:
        """What the thread predicts next: the queue's requests grouped by model and columns
        oldest group first,
        each up to ``max_rows`` rows (a request over the limit goes alone); the rest wait."""
        groups: dict[tuple[int, tuple[str, ...]], list[_Waiting]] = {}
        rows: dict[tuple[int, tuple[str, ...]], int] = {}
        rest = []
        for waiting in self._queue:
            key = (id(waiting.model), tuple(waiting.names))
            group = groups.setdefault(key, [])
            if not group or rows[key] + waiting.rows <= self.max_rows:
                group.append(waiting)
                rows[key] = rows.get(key, 0) + waiting.rows
            else:
                rest.append(waiting)
        self._queue = rest
        return list(groups.values())


def _predict_groups(groups: list[list[_Waiting]]) -> list[list[tuple[bool, Any]]]:
    """Each group's answers, one call per group; each model's call time measured."""
    results = []
    for group in groups:
        started = time.perf_counter()
        results.append(_predict_batch(group))
        group[0].model.call_seconds = time.perf_counter() - started
    return results


def _predict_batch(batch: list[_Waiting]) -> list[tuple[bool, Any]]:
    """Each request's predictions (True, list) or error (False, exception), from one call
    when the batch succeeds, else one call per request."""
    if len(batch) > 1:
        model, names = batch[0].model, batch[0].names
        joined = [
            [value for waiting in batch for value in waiting.columns[i]] for i in range(len(names))
        ]
        try:
            outputs = model.predict(joined, names)
        except Exception:  # noqa: BLE001 - one bad request must not fail its neighbours
            pass
        else:
            if len(outputs) == sum(w.rows for w in batch):
                answers: list[tuple[bool, Any]] = []
                start = 0
                for waiting in batch:
                    answers.append((True, outputs[start : start + waiting.rows]))
                    start += waiting.rows
                return answers
    results: list[tuple[bool, Any]] = []
    for waiting in batch:
        try:
            results.append((True, waiting.model.predict(waiting.columns, waiting.names)))
        except Exception as exc:  # noqa: BLE001 - answered to its own request
            results.append((False, exc))
    return results
