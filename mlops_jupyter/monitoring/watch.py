"""The loop that closes monitoring: check, alert, retrain, gate, promote.

One :func:`step` builds the endpoint's scorecard. A change of status is posted to a webhook (a
Slack-compatible JSON message). When the scorecard fails on drift (monitor 2) or on quality,
measured or estimated (monitor 7), and a retrain notebook is given: the labelled traffic becomes
a new version of the dataset, the notebook runs on it as a tracked run (papermill, with
lineage), its model is registered, gated against the version the endpoint's alias holds, and
promoted if it passes; the endpoint follows its alias. Each step is a line in
``.mlops/monitoring/NAME/watch.jsonl`` that the dashboard shows.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MlopsError

PathLike = str | os.PathLike[str]
TRIGGERS = ("2 data invariants", "7 prediction quality")


@dataclass
class Step:
    """What one check found and did."""

    endpoint: str
    at: float
    status: str
    previous: str | None
    failed: list[str] = field(default_factory=list)  # the monitors that failed
    dataset: str | None = None  # the data version made for the retrain
    run: str | None = None  # the retrain's run name
    candidate: str | None = None  # M/4, registered from it
    gate: str | None = None  # the gate's verdict in one line
    promoted: bool = False
    error: str | None = None  # what stopped the retrain

    def __str__(self) -> str:
        stamp = time.strftime("%H:%M", time.localtime(self.at))
        was = f" (was {self.previous.upper()})" if self.previous not in (None, self.status) else ""
        text = f"{stamp} {self.endpoint} {self.status.upper()}{was}"
        if self.failed:
            text += f": {', '.join(m.split(' ', 1)[1] for m in self.failed)} failed"
        if self.run:
            on = f" on {self.dataset}" if self.dataset else ""
            text += f"; retrained{on} (run {self.run}, {self.candidate})"
        if self.gate:
            text += f"; {self.gate}"  # "gate passed: ..." or "gate failed: ..."
        if self.promoted:
            text += f"; promoted {self.candidate}"
        if self.error:
            text += f"; retrain stopped: {self.error}"
        return text


def _file(endpoint: str, project: PathLike | None) -> Path:
    from ..workspace import Workspace

    return Workspace.find(project).state_dir / "monitoring" / endpoint / "watch.jsonl"


def history(endpoint: str, project: PathLike | None = None) -> list[Step]:
    """The steps recorded for ``endpoint``, oldest first."""
    path = _file(endpoint, project)
    if not path.exists():
        return []
    steps = []
    for line in path.read_text().splitlines():
        try:
            steps.append(Step(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut short by a crash: the others stand
    return steps


def step(
    endpoint: str,
    retrain: PathLike | None = None,
    data: str | None = None,
    gate: Any = None,
    gate_data: str | None = None,
    target: str | None = None,
    webhook: str | None = None,
    project: PathLike | None = None,
) -> Step:
    """Check ``endpoint`` once; alert on a change; retrain, gate and promote on a failure.

    ``data``: the dataset the labelled traffic is added to as a new version (its truth column
    ``target``: by default the one the model does not take), passed to the ``retrain``
    notebook as its ``dataset`` parameter. ``gate``: rules as ``%track promote --gate`` takes
    them (default ``rmse``/``accuracy``: no worse than the champion), on ``gate_data`` (default:
    the new version).
    """
    from .monitors import build

    card = build(endpoint, project=project)
    before = history(endpoint, project)
    found = Step(endpoint, time.time(), card.status, before[-1].status if before else None)
    found.failed = [c.monitor for c in card.checks if c.status == "fail"]
    if retrain is not None and any(m in TRIGGERS for m in found.failed):
        try:
            _retrain(found, card, retrain, data, gate, gate_data, target, project)
        except MlopsError as e:
            found.error = str(e)
    _record(found, project)
    if webhook and (found.status != found.previous or found.run):
        post(webhook, found, card)
    return found


def _retrain(
    found: Step,
    card: Any,
    notebook: PathLike,
    data: str | None,
    gate: Any,
    gate_data: str | None,
    target: str | None,
    project: PathLike | None,
) -> None:
    from .. import tracking
    from ..serving import endpoints
    from ..tracking.notebooks import declared_parameters, run_notebook

    record = endpoints.record_of(endpoints.get(found.endpoint, project))
    parameters: dict[str, Any] = {}
    held_out: Any = gate_data
    held_name = gate_data or ""
    if data is not None:
        labelled = labelled_version(found.endpoint, data, target, project)
        if labelled is not None:
            found.dataset, target = labelled.ref, labelled.target
            if gate_data is None:  # the candidate never sees these rows
                held_out, held_name = labelled.held_out, labelled.held_out_text
            if "dataset" in (declared_parameters(Path(notebook)) or {}):
                parameters["dataset"] = found.dataset
    if held_out is None:  # known before a run is made or a version registered
        raise MlopsError("no labelled traffic to gate on yet: add labels, or pass --gate-data")
    run = run_notebook(notebook, parameters, experiment="retrain",
                       name=f"{found.endpoint}-retrain", project=project,
                       tags={"mlops.watch": found.endpoint})  # fmt: skip
    found.run = run.name
    model = record["model"]
    version = tracking.register(run.run_id, model, project=project)
    found.candidate = f"{model}/{version.version}"
    alias = record.get("alias") or "champion"
    rules = gate or [_default_rule(card)]
    result = tracking.validate(found.candidate, f"{model}@{alias}", rules, held_out, target,
                               project, data_name=held_name)  # fmt: skip
    found.gate = str(result)
    if result.passed:
        tracking.promote(found.candidate, alias, project=project, gated=result)
        endpoints.reload(found.endpoint, project)  # now, not at the alias's next poll
        found.promoted = True


def _default_rule(card: Any) -> str:
    """No worse than the champion, on the metric monitor 7 speaks of."""
    quality = next((c.evidence for c in card.checks if c.monitor.startswith("7")), "")
    return "accuracy" if "accuracy" in quality else "rmse"


HELD_OUT = 0.2  # the newest fifth of the labelled rows: the gate's, never the retrain's
MIN_ROWS = 10


@dataclass(frozen=True)
class Labelled:
    """The labelled traffic split by time: the older rows as a new dataset version (the
    retrain's), the newest as the gate's held-out rows, which no version holds."""

    ref: str
    target: str
    held_out: Any  # a DataFrame, the truth in column ``target``
    since: float  # when the first held-out row was answered

    @property
    def held_out_text(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return (
            f"the newest {len(self.held_out)} labelled rows (answered from {stamp} on, "
            f"held out of {self.ref})"
        )


def labelled_version(
    endpoint: str, data: str, target: str | None, project: PathLike | None
) -> Labelled | None:
    """The rows ``endpoint`` answered that have labels: the older 80% as the next version of
    ``data`` (its file, in its format), the newest 20% held out for the gate (a model is
    judged on rows it never saw, and on the newest, as it will serve). None when no row is
    labelled yet."""
    import numpy as np
    import pandas as pd

    from .. import datasets
    from ..datasets import api as datasets_api
    from ..datasets import catalog, dvcstore
    from ..workspace import Workspace
    from . import api
    from .labels import per_row, stored

    truth = stored(endpoint, project)
    if truth is None:
        return None
    table = api.answered(endpoint, None, project)
    rows = api.inputs_of(table)
    labels = per_row(table, truth)
    inputs = table["inputs"].combine_chunks()
    counts = api.row_counts([inputs.field(i) for i in range(inputs.type.num_fields)])
    answered_at = np.repeat(table["ts"].to_numpy(), counts)  # each row's request's time
    known = pd.notna(pd.Series(labels, dtype=object)).to_numpy()
    if not known.any():
        return None
    if known.sum() < MIN_ROWS:
        raise MlopsError(
            f"{endpoint} has {known.sum()} labelled rows; retraining needs {MIN_ROWS} at least "
            "(a fifth of them held out for the gate): add labels, or pass --gate-data"
        )
    ws = Workspace.find(project)
    latest = catalog.resolve(ws, data)
    existing = datasets_api.load_version(latest, project)
    columns = list(existing.columns)
    missing = [c for c in rows.columns if c not in columns]
    if missing:
        raise MlopsError(f"{data} has no column {', '.join(missing)} that {endpoint} is served")
    if target is None:  # the one other column of the labels' kind (numbers, or not)
        numeric = pd.api.types.is_numeric_dtype(pd.Series(list(labels[known])))
        left = [c for c in columns if c not in set(rows.columns)
                and pd.api.types.is_numeric_dtype(existing[c]) == numeric]  # fmt: skip
        if len(left) != 1:
            raise MlopsError(
                f"name the truth column of {data} with --target (beside {endpoint}'s inputs it "
                f"has {', '.join(map(str, left)) or 'no column'})"
            )
        target = str(left[0])
    elif target not in columns:
        raise MlopsError(f"{data} has no column {target!r}; it has {', '.join(map(str, columns))}")
    frame = rows[known].assign(**{target: labels[known]})
    frame = frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
    frame[target] = frame[target].infer_objects()  # the labels' own type, not object
    times = answered_at[known]
    order = np.argsort(times, kind="stable")  # by when each row was answered
    cut = len(order) - max(1, round(HELD_OUT * len(order)))
    train, held = frame.iloc[order[:cut]], frame.iloc[order[cut:]].reset_index(drop=True)
    path = ws.root / latest.path
    dvc_file = path.with_name(path.name + ".dvc")
    lost = dvcstore.unsaved(ws, path, dvc_file) if path.exists() else None
    if lost:  # the file holds the user's work, not a version: never written over
        raise MlopsError(f"{latest.path} holds {lost}; add it as a version first, then watch")
    if latest.format == "parquet" or path.suffix == ".parquet":
        train.to_parquet(path, index=False)
    else:
        train.to_csv(path, index=False)
    when = time.strftime("%Y-%m-%d %H:%M")
    made = datasets.add(path, name=latest.name, project=project,
                        message=f"labelled traffic of {endpoint} to {when} "
                                f"(the newest {len(held)} rows held out)")  # fmt: skip
    return Labelled(made.ref, target, held, float(times[order[cut]]))


def _record(found: Step, project: PathLike | None) -> None:
    path = _file(found.endpoint, project)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:  # one whole line per step
        out.write(json.dumps(asdict(found)) + "\n")


WEBHOOK_SECONDS = 10


def post(url: str, found: Step, card: Any, deadline: float = WEBHOOK_SECONDS) -> None:
    """A Slack-compatible JSON message (``text``) with the step and the checks, sent in a
    thread given at most ``deadline`` seconds in all (a socket timeout bounds each read, not
    a server that trickles bytes). A webhook that fails or is too slow is one line on stderr,
    its URL shown without credentials, query or path (Slack's secret is in the path), and
    the loop goes on."""
    import threading
    import urllib.request

    body = {"text": f"mlops-jupyter: {found}", "step": asdict(found), "scorecard": card.as_dict()}
    failed: list[str] = []

    def send() -> None:
        try:
            request = urllib.request.Request(
                url, json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
            urllib.request.urlopen(request, timeout=deadline).close()
        except Exception as e:  # noqa: BLE001 - a bad status line, a reset: all one line
            failed.append(f"{type(e).__name__}: {getattr(e, 'reason', e)}")

    sender = threading.Thread(target=send, name="webhook", daemon=True)
    sender.start()
    sender.join(deadline)
    if sender.is_alive():
        failed.append(f"no answer within {deadline:g} s")
    if failed:
        print(f"the webhook {masked(url)} failed ({failed[0]}); going on", file=sys.stderr)


def masked(url: str) -> str:
    """``https://hooks.example.com/…`` of a URL: scheme, host and port only."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        where = f"{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "(an unreadable URL)"
    rest = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{where}{rest}"


def interval(text: str) -> float:
    """Seconds from ``90s``, ``15m``, ``1h`` or ``1d``; one line otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    try:
        seconds = float(number) * units[unit]
    except (KeyError, ValueError):
        raise MlopsError(f"interval {text!r}: use a number and s, m, h or d (15m, 1h)") from None
    if seconds <= 0:
        raise MlopsError(f"interval {text!r}: it must be longer than nothing")
    return seconds


def watch(endpoint: str, every: float, once: bool = False, **options: Any) -> None:
    """:func:`step` now and every ``every`` seconds (once with ``once``), a line per step. A
    step that fails (the endpoint restarting, a bug of ours) is one line on stderr, its
    traceback kept in ``watch-errors.log`` beside the history; the next cycle runs."""
    while True:
        try:
            print(step(endpoint, **options), flush=True)
        except MlopsError as e:
            if once:
                raise
            print(f"{time.strftime('%H:%M')} {endpoint}: {e}", file=sys.stderr, flush=True)
        except Exception as e:  # noqa: BLE001 - one bad cycle never ends the loop
            kept = _keep_traceback(endpoint, options.get("project"))
            line = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            if once:
                raise MlopsError(
                    f"the check of {endpoint} failed: {line} (traceback in {kept})"
                ) from None
            stamp = time.strftime("%H:%M")
            print(
                f"{stamp} {endpoint}: the check failed: {line} (traceback in {kept}); "
                f"next check in {every:g} s",
                file=sys.stderr,
                flush=True,
            )
        if once:
            return
        time.sleep(every)


def _keep_traceback(endpoint: str, project: PathLike | None) -> Path:
    import traceback

    path = _file(endpoint, project).with_name("watch-errors.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{traceback.format_exc()}")
    return path
