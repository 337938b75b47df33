"""What each REST route answers: the Python API's results as JSON-ready dicts and lists."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import MlopsError, NotFoundError

MAX_PAGE = 1000


def _records(frame: Any) -> list[dict[str, Any]]:
    from .handlers import records

    return records(frame)


def status(project: Path) -> dict[str, Any]:
    """The project the sidebar shows (None outside one, with what to do)."""
    from .. import __version__
    from ..tracking import store
    from ..workspace import Workspace

    try:
        ws = Workspace.find(project)
    except MlopsError as exc:
        return {"project": None, "message": str(exc), "version": __version__}
    return {
        "project": str(ws.root),
        "name": ws.root.name,
        "version": __version__,
        "tracking_uri": store.tracking_uri(ws),
    }


def datasets(project: Path) -> list[dict[str, Any]]:
    """Every dataset with its versions (newest first): rows, size, date, message, and what
    changed from the version before (in a few words)."""
    from ..datasets import catalog
    from ..workspace import Workspace

    found: dict[str, list[Any]] = {}
    for version in catalog.versions(Workspace.find(project)):
        found.setdefault(version.name, []).append(version)
    return [
        {
            "name": name,
            "versions": [_version(v, vs[i - 1] if i else None) for i, v in enumerate(vs)][::-1],
        }
        for name, vs in sorted(found.items())
    ]


def _version(v: Any, before: Any) -> dict[str, Any]:
    from ..datasets import diffs

    return {
        "ref": v.ref,
        "version": f"v{v.number}",
        "rows": v.rows,
        "columns": v.columns,
        "files": v.files,
        "folder": v.is_dir,
        "size": v.size,
        "created": v.created,
        "message": v.message,
        "change": diffs.headline(before, v),
    }


DIFF_ROWS = 500  # rows of a diff sent to the sidebar's view (the counts cover them all)


def dataset_diff(project: Path, ref: str, before: str | None) -> dict[str, Any]:
    """What changed from ``before`` (by default the version before) to ``ref``: rows and cells
    of a table, files of a folder; the first DIFF_ROWS differences, and the counts of all."""
    from .. import datasets as api
    from ..datasets import catalog
    from ..workspace import Workspace

    a, b = (before, ref) if before else (ref, None)  # one reference: from the version before
    if catalog.resolve(Workspace.find(project), ref).is_dir:
        diff = api.diff(a, b, project=project)
        frame, status, pairs = diff.table, "status", [("size_a", "size_b")]
        counts = diff.counts()
    else:
        diff = api.diff(a, b, project=project, rows=True)
        frame, status = diff.rows, "diff_type"
        pairs = [(f"from_{c}", f"to_{c}") for c in diff.values]
        counts = {k: diff.count(k) for k in ("added", "removed", "changed")}
    return {
        "a": diff.a.ref,
        "b": diff.b.ref,
        "summary": diff.summary(),
        "status": status,
        "counts": counts,
        "columns": [str(c) for c in frame.columns],
        "pairs": pairs,
        "rows": _records(frame.head(DIFF_ROWS)),
        "total": len(frame),
    }


def runs(project: Path, args: dict[str, Any]) -> dict[str, Any]:
    """One page of runs, sorted and filtered with MLflow's syntax; the next page's token."""
    from .. import tracking

    try:
        size = max(1, min(MAX_PAGE, int(args["max_results"])))
    except ValueError:
        raise MlopsError("max_results must be a number") from None
    frame = tracking.runs(
        args["experiment"] or None,
        args["filter"],
        order_by=[args["order"]] if args["order"] else (),
        max_results=size,
        project=project,
        page_token=args["page_token"] or None,
    )
    rows = _records(frame)
    for row, whole in zip(rows, frame.attrs["ids"], strict=True):
        row["id"] = whole  # the list shows the short id; a compare names runs exactly
    metrics = sorted(c.removeprefix("metrics.") for c in frame.columns if c.startswith("metrics."))
    params = sorted(c.removeprefix("params.") for c in frame.columns if c.startswith("params."))
    token = frame.attrs.get("token")
    experiments = tracking.client(project).search_experiments(max_results=1000)
    return {
        "experiments": sorted(e.name for e in experiments),
        "runs": rows,
        "metrics": metrics,
        "params": params,
        "next_page_token": token.decode() if isinstance(token, bytes) else token,
    }


HISTORY_METRICS = 30  # metrics whose steps a run's view charts
HISTORY_POINTS = 500  # points per chart, evenly taken from longer histories


def run(project: Path, ref: str, root: Path | None = None) -> dict[str, Any]:
    """One run's details: parameters, metrics (with their histories), tags, where its code came
    from (its notebook's path under the server's ``root`` too, to open it), and the data
    versions it read (lineage)."""
    from .. import tracking
    from ..tracking import lineage
    from ..workspace import Workspace

    client = tracking.client(project)
    found = tracking.get_run(ref, project=project)
    info, data = found.info, found.data
    read = lineage.read_by_run(data.tags)
    histories = {}
    for key in sorted(data.metrics)[:HISTORY_METRICS]:
        if points := _history(client, info.run_id, key):
            histories[key] = points
    tags = data.tags
    notebook = tags.get("mlops.notebook") or tags.get("mlflow.source.name")
    path = None
    if notebook and notebook.endswith(".ipynb") and root is not None:
        file = (Workspace.find(project).root / notebook).resolve()
        if file.is_file() and root.resolve() in file.parents:
            path = file.relative_to(root.resolve()).as_posix()
    return {
        "id": info.run_id,
        "name": info.run_name,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "experiment_id": info.experiment_id,
        "params": dict(sorted(data.params.items())),
        "metrics": dict(sorted(data.metrics.items())),
        "tags": {k: v for k, v in sorted(tags.items()) if not k.startswith("mlflow.")},
        "histories": histories,
        "source": {
            "notebook": notebook,
            "path": path,
            "commit": tags.get("mlflow.source.git.commit"),
            "branch": tags.get("mlflow.source.git.branch"),
            "dirty": tags.get("mlops.git.dirty") == "true",  # uncommitted changes when it ran
            "python": tags.get("mlops.python"),
            "seed": tags.get("mlops.seed"),
        },
        "datasets": [
            {"ref": d["ref"], "context": d.get("context", "training")} for d in read if d.get("ref")
        ],
        "data": lineage.shown(read),
    }


def _history(client: Any, run_id: str, key: str) -> list[list[float]]:
    """A metric's [step, value] points (at most HISTORY_POINTS, evenly taken, the last kept);
    empty when it was logged once."""
    points = sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))
    if len(points) < 2:
        return []
    every = max(1, -(-len(points) // HISTORY_POINTS))
    taken = points[::every] + ([points[-1]] if (len(points) - 1) % every else [])
    return [[step, value] for step, _, value in taken]


MAX_COMPARED = 1000  # runs in one compare (a parallel-coordinates chart still reads)
HISTORY_RUNS = 20  # runs whose metric histories a compare overlays


def compare(project: Path, refs: list[str], histories: bool) -> dict[str, Any]:
    """Runs side by side (the Compare view): each run's parameters, metrics, the data it read
    and why its cells were non-linear; the parameters whose values differ. With ``histories``,
    the metrics logged at several steps, run by run, to overlay (the first HISTORY_RUNS runs)."""
    from .. import tracking
    from ..tracking import lineage, names

    refs = [r for r in (r.strip() for r in refs) if r]
    if len(refs) > MAX_COMPARED:
        raise MlopsError(f"{len(refs)} runs is too many to compare; choose {MAX_COMPARED} at most")
    client = tracking.client(project)
    found = list({r.info.run_id: r for r in names.find_runs(client, refs)}.values())
    if len(found) < 2:  # (a run named twice, by a prefix and its whole id, is one)
        raise MlopsError("choose two runs or more to compare: Ctrl-click them in the list")
    runs = [
        {
            "id": r.info.run_id,
            "name": r.info.run_name,
            "status": r.info.status,
            "start_time": r.info.start_time,
            "end_time": r.info.end_time,
            "params": dict(sorted(r.data.params.items())),
            "metrics": dict(sorted(r.data.metrics.items())),
            "data": lineage.shown(lineage.read_by_run(r.data.tags)),
            "nonlinear": r.data.tags.get("mlops.cells.why"),
        }
        for r in found
    ]
    params = sorted({k for r in runs for k in r["params"]})
    metrics = sorted({k for r in runs for k in r["metrics"]})
    answer: dict[str, Any] = {
        "runs": runs,
        "params": params,
        "metrics": metrics,
        "differ": [p for p in params if len({r["params"].get(p) for r in runs}) > 1],
    }
    if histories:
        answer["histories"] = {}
        for key in metrics[:HISTORY_METRICS]:
            lines = {
                r["id"]: points
                for r in runs[:HISTORY_RUNS]
                if key in r["metrics"] and (points := _history(client, r["id"], key))
            }
            if lines:
                answer["histories"][key] = lines
    return answer


def models(project: Path) -> list[dict[str, Any]]:
    """Registered models, each with its versions (newest first) and aliases."""
    from .. import tracking

    try:
        frame = tracking.models(project=project)
    except NotFoundError:
        return []
    found: dict[str, dict[str, Any]] = {}
    for row in _records(frame):
        model = found.setdefault(
            row["model"], {"name": row["model"], "aliases": {}, "versions": []}
        )
        aliases = [a for a in (row.get("aliases") or "").split(", ") if a]
        for alias in aliases:
            model["aliases"][alias] = row["version"]
        model["versions"].append(
            {
                "version": row["version"],
                "aliases": aliases,
                "run": row.get("run"),
                "run_name": row.get("run_name"),
                "created": row.get("created"),
                "data": row.get("data"),
                "metrics": {
                    k.removeprefix("metric."): v
                    for k, v in row.items()
                    if k.startswith("metric.") and v is not None
                },
            }
        )
    for model in found.values():
        model["versions"].sort(key=lambda v: -v["version"])
    return list(found.values())


def promote(project: Path, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Point ``alias`` of model ``name`` at ``version``; the model as it is now."""
    from .. import tracking

    alias, version = body.get("alias"), body.get("version")
    if not alias or version is None:
        raise MlopsError('send {"alias": "champion", "version": 2}')
    tracking.promote(f"{name}/{version}", str(alias), project=project)
    return next(m for m in models(project) if m["name"] == name)


def endpoints(project: Path) -> list[dict[str, Any]]:
    """Running endpoints: model, version, URL, uptime, requests, errors, p95 latency."""
    from .. import serving

    return _records(serving.status(project))


LAST_REQUESTS = 20
SHOWN_CHARS = 160  # of a request's inputs or outputs, as JSON


def endpoint(project: Path, name: str, scorecard: bool) -> dict[str, Any]:
    """One endpoint for its view: what it serves, its traffic so far (requests, errors, latency
    percentiles, from its ``/metrics``), the last requests it logged (newest first) and, with
    ``scorecard``, its scorecard. ``at`` is when: successive answers give the request rate."""
    import orjson

    from .. import serving
    from ..serving import endpoints as running

    found = running.get(name, project)
    traffic = serving.metrics(found)
    if not traffic:
        log = running.record_of(found).get("server_log", "its server log")
        raise MlopsError(f"endpoint {name} does not answer at {found.url}; see {log}")

    def shown(value: Any) -> str:
        text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()
        return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"

    last = []
    frame = serving.logs(name, LAST_REQUESTS, project)
    for row in reversed(_records(frame)):
        last.append(
            {
                "time": row.get("time"),
                "id": row.get("id"),
                "status": row.get("status"),
                "latency_ms": row.get("latency_ms"),
                "version": row.get("version"),
                "variant": row.get("variant"),
                "error": row.get("error"),
                "inputs": shown(row["inputs"]) if row.get("inputs") is not None else "",
                "outputs": shown(row["outputs"]) if row.get("outputs") is not None else "",
            }
        )
    answer = {
        "endpoint": found.name,
        "model": found.model,
        "alias": found.alias,
        "version": found.version,
        "url": found.url,
        "uptime_s": round(time.time() - found.started),
        "challenger": found.challenger,
        "at": time.time(),
        "traffic": traffic,
        "requests": last,
    }
    if scorecard:
        answer["scorecard"] = _scorecard(project, found)
    return answer


def start(project: Path, body: dict[str, Any]) -> dict[str, Any]:
    """Start serving ``model`` (``M@alias``, ``M/3``, ``M``), optionally as ``name``."""
    from .. import serving

    if not body.get("model"):
        raise MlopsError('send {"model": "NAME@alias"} (and optionally "name")')
    found = serving.start(str(body["model"]), name=body.get("name") or None, project=project)
    return {"name": found.name, "url": found.url, "model": found.model, "version": found.version}


def endpoint_action(project: Path, name: str, action: str) -> dict[str, Any]:
    from .. import serving

    found = serving.stop(name, project) if action == "stop" else serving.reload(name, project)
    return {"name": found.name, "action": action, "version": found.version}


def monitors(project: Path) -> list[dict[str, Any]]:
    """Per endpoint: the scorecard's light (pass / warn / fail), its checks, the dashboard URL."""
    from ..monitoring import publish
    from ..serving import endpoints as running

    published = {d.endpoint: d.url for d in publish.dashboards(project)}
    found = []
    for endpoint in running.endpoints(project):
        card = _scorecard(project, endpoint)
        found.append({"endpoint": endpoint.name, **card, "dashboard": published.get(endpoint.name)})
    return found


# Scorecards by (project, endpoint): the state they were computed from, when, and the card.
_CARDS: dict[tuple[str, str], tuple[tuple, float, dict[str, Any]]] = {}
CARD_MAX_AGE = 300.0  # seconds: windows of time move on even without traffic


def _scorecard(project: Path, endpoint: Any) -> dict[str, Any]:
    """An endpoint's scorecard, computed again only when its traffic, labels, model or the
    project's settings changed (or ``CARD_MAX_AGE`` passed): a refresh costs a few ``stat``s."""
    from .. import monitoring

    key = (str(project), endpoint.name)
    state = _monitored_state(project, endpoint)
    kept = _CARDS.get(key)
    if kept is not None and kept[0] == state and time.monotonic() - kept[1] < CARD_MAX_AGE:
        return kept[2]
    try:
        card = monitoring.scorecard(endpoint.name, project=project).as_dict()
    except MlopsError as exc:
        card = {"status": "warn", "checks": [], "message": str(exc)}
    _CARDS[key] = (state, time.monotonic(), card)
    return card


def _monitored_state(project: Path, endpoint: Any) -> tuple:
    """Size and time of every file a scorecard reads: the prediction log, the labels and
    monitoring state, the endpoint's record (the model it serves) and the settings. The
    endpoint's resource samples (``resources.jsonl``, written every few seconds) are not read."""
    from ..serving.endpoints import record_of
    from ..workspace import SETTINGS_FILE, Workspace

    ws = Workspace.find(project)
    try:
        log_dir = Path(record_of(endpoint)["log_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        log_dir = None
    files = [endpoint.record, project / SETTINGS_FILE, project / "pyproject.toml"]
    for folder in (log_dir, ws.state_dir / "monitoring" / endpoint.name):
        if folder is not None and folder.is_dir():  # (the resource samples aside: not read)
            files.extend(p for p in folder.rglob("*") if p.is_file() and
                         not p.name.startswith("resources."))  # fmt: skip
    state = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue  # gone between listing and now (a log compacted): the rest says enough
        state.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(state))


def lineage(project: Path, ref: str | None, direction: str) -> dict[str, Any]:
    """The lineage graph (all of it, or what ``ref`` came from and reached) as nodes and edges."""
    from ..tracking import lineage as lineage_

    return lineage_.graph(ref or None, direction, project=project).as_dict()


def monitor_action(project: Path, name: str, action: str) -> dict[str, Any]:
    from ..monitoring import publish

    if action == "publish":
        return {"endpoint": name, "url": publish.publish(name, project=project).url}
    publish.stop(name, project)
    return {"endpoint": name, "url": None}
