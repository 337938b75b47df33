"""Pipelines of notebooks as ordinary DVC stages: ``dvc.yaml``, ``dvc.lock``, ``params.yaml``.

>>> pipelines.add_stage("features", "notebooks/features.ipynb", params={"window": 24},
...                     deps=["data/temps_1h.csv"], outs={"data/features.parquet": "features"})
>>> pipelines.run()          # dvc repro: only stages whose code, parameters or data changed

A stage's command is ``mlops-jupyter run NOTEBOOK --stage NAME``: a papermill run of the notebook
with the parameters of ``params.yaml``'s ``NAME`` section, tracked as an MLflow run under the
pipeline's run. ``dvc repro`` and ``dvc dag`` work on the same files as usual. After a pipeline
run, each output named as a dataset becomes its next version (``features@v3``), recording the
stage, the run and the dataset versions the run read.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import git as gitcmd
from .errors import MlopsError, NotFoundError, close_matches
from .workspace import Workspace

META_KEY = "mlops-jupyter"
PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Stage:
    name: str
    notebook: str
    params: dict[str, Any]
    deps: list[str]
    outs: dict[str, str | None]  # path -> dataset name (None: a plain output)


@dataclass
class PipelineRun:
    """What ``run`` did: the parent run, each stage's run, and the dataset versions made."""

    run_id: str
    ran: dict[str, str] = field(default_factory=dict)  # stage -> run id
    skipped: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"pipeline run {self.run_id[:8]}"]
        lines += [f"  ran {s} (run {r[:8]})" for s, r in self.ran.items()]
        lines += [f"  up to date: {s}" for s in self.skipped]
        lines += [f"  new version: {v}" for v in self.versions]
        return "\n".join(lines)


def _yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    if not path.exists():
        return {}
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path.name} is not valid YAML ({exc}); fix it by hand") from None


def _yaml_dump(path: Path, data: dict[str, Any]) -> None:
    import yaml

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def stages(project: str | os.PathLike[str] | None = None) -> list[Stage]:
    """The notebook stages of the project's ``dvc.yaml``, in file order."""
    ws = Workspace.find(project)
    data = _yaml_load(ws.root / "dvc.yaml").get("stages", {})
    params = _yaml_load(ws.root / PARAMS_FILE)
    found = []
    for name, spec in data.items():
        meta = (spec.get("meta") or {}).get(META_KEY)
        if not meta:
            continue  # a stage someone wrote by hand: DVC runs it, we leave it alone
        outs = {
            _out_path(o): meta.get("datasets", {}).get(_out_path(o)) for o in spec.get("outs", [])
        }
        found.append(
            Stage(name, meta["notebook"], dict(params.get(name) or {}), spec.get("deps", []), outs)
        )
    return found


def _out_path(out: Any) -> str:
    return out if isinstance(out, str) else next(iter(out))


def add_stage(
    name: str,
    notebook: str,
    params: dict[str, Any] | None = None,
    deps: list[str] | None = None,
    outs: dict[str, str | None] | list[str] | None = None,
    project: str | os.PathLike[str] | None = None,
) -> Stage:
    """Define (or redefine) stage ``name``: run ``notebook`` with ``params``.

    ``deps`` are files or folders it reads (the notebook itself is always one); ``outs`` maps
    each file it writes to the dataset name its versions go under (or None). Paths are relative
    to the project root, where the stage runs.
    """
    from .datasets.refs import check_name
    from .tracking.notebooks import check_notebook
    from .tracking.tracked import check_params

    ws = Workspace.find(project)
    check_name(name)
    params = check_params(params)
    nb = ws.path(notebook)
    check_notebook(nb, params)
    out_map = dict.fromkeys(outs) if isinstance(outs, list) else dict(outs or {})
    for dataset in out_map.values():
        if dataset:
            check_name(dataset)
    rel_nb = ws.rel(nb)
    dep_paths = [rel_nb, *(ws.rel(ws.path(d)) for d in deps or [])]
    out_paths = {ws.rel(ws.path(o)): d for o, d in out_map.items()}
    for out in out_paths:
        if (ws.root / (out + ".dvc")).exists():
            raise MlopsError(
                f"{out} is already versioned with `%dataset add` ({out}.dvc); a stage's output "
                "must be a file only the stage writes: pick another path"
            )
    all_params = _yaml_load(ws.root / PARAMS_FILE)
    all_params[name] = params
    _yaml_dump(ws.root / PARAMS_FILE, all_params)
    dvc_yaml = _yaml_load(ws.root / "dvc.yaml")
    spec: dict[str, Any] = {
        # DVC runs this through a shell: every path quoted, so a space or `$(...)` in a
        # notebook's name stays part of the name
        "cmd": f"mlops-jupyter run {shlex.quote(rel_nb)} --stage {shlex.quote(name)}",
        "deps": dep_paths,
    }
    if params:
        spec["params"] = [f"{name}.{k}" for k in params]
    if out_paths:
        spec["outs"] = list(out_paths)
    meta = {"notebook": rel_nb, "datasets": {o: d for o, d in out_paths.items() if d}}
    spec["meta"] = {META_KEY: meta}
    dvc_yaml.setdefault("stages", {})[name] = spec
    _yaml_dump(ws.root / "dvc.yaml", dvc_yaml)
    _check_graph(ws)
    return next(s for s in stages(ws.root) if s.name == name)


def _check_graph(ws: Workspace) -> None:
    """DVC's own validation of the pipeline (cycles, two stages writing one file)."""
    from dvc.exceptions import DvcException

    from .datasets import dvcstore

    with dvcstore.open_repo(ws) as repo:
        try:
            repo.index.check_graph()
        except DvcException as exc:
            raise MlopsError(f"the pipeline is not valid: {exc}") from None


def stage_params(name: str, project: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The parameters of stage ``name`` from ``params.yaml``."""
    ws = Workspace.find(project)
    return dict(_yaml_load(ws.root / PARAMS_FILE).get(name) or {})


def record_stage_run(ws: Workspace, stage: str, run_id: str) -> None:
    """Called by the stage's command: which run executed ``stage`` (read back by ``run``)."""
    folder = ws.state_dir / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stage}.json").write_text(json.dumps({"run": run_id, "time": time.time()}))


def status(project: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Each stage's state as ``dvc status`` sees it: "changed" or "up to date"."""
    ws = Workspace.find(project)
    out = _dvc(ws, "status", "--json")
    changed = json.loads(out.stdout or "{}")
    result = {}
    for name in _yaml_load(ws.root / "dvc.yaml").get("stages", {}):
        result[name] = "changed" if name in changed else "up to date"
    return result


def _dvc(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> Any:
    bin_dir = str(Path(sys.executable).parent)
    full_env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=ws.root,
        capture_output=True,
        text=True,
        env=full_env,
    )


def run(
    targets: list[str] | None = None,
    experiment: str | None = None,
    force: bool = False,
    project: str | os.PathLike[str] | None = None,
) -> PipelineRun:
    """``dvc repro`` under one parent MLflow run; outputs named as datasets become versions.

    Only stages whose notebook, parameters or input data changed run (all with ``force``).
    """
    from . import tracking
    from .tracking.tracked import ENV_PARENT

    ws = Workspace.find(project)
    defined = {s.name: s for s in stages(ws.root)}
    if not defined:
        raise MlopsError("no notebook stages yet; define one with `%track stage NAME NOTEBOOK`")
    for target in targets or []:
        if target not in defined:
            raise NotFoundError(f"no stage {target!r}; {close_matches(target, list(defined))}")
    started = time.time()
    with tracking.run(
        experiment=experiment, name="pipeline", kind="pipeline", project=ws.root
    ) as parent:
        args = ["repro", *(["--force"] if force else []), *(targets or [])]
        out = _dvc(ws, *args, env={ENV_PARENT: parent.id})
        if out.returncode != 0:
            said = [line for line in (out.stderr + out.stdout).splitlines() if line.strip()]
            reason = next(
                (line for line in said if "mlops-jupyter run:" in line), said[-1] if said else ""
            )
            raise MlopsError(f"the pipeline stopped: {reason.strip()}")
        result = PipelineRun(parent.id)
        for name in defined:
            record = ws.state_dir / "stages" / f"{name}.json"
            if record.exists() and json.loads(record.read_text())["time"] >= started:
                result.ran[name] = json.loads(record.read_text())["run"]
            else:
                result.skipped.append(name)
        result.versions = _version_outputs(ws, [defined[s] for s in result.ran], result.ran)
        parent._client.set_tag(parent.id, "mlops.pipeline.versions", ", ".join(result.versions))
    return result


def _version_outputs(ws: Workspace, ran: list[Stage], runs: dict[str, str]) -> list[str]:
    """Commit ``dvc.yaml``, ``dvc.lock`` and ``params.yaml``, tagging each new output version."""
    from .datasets import catalog, tables
    from .datasets.refs import tag_name

    lock = _yaml_load(ws.root / "dvc.lock").get("stages", {})
    tags: list[tuple[str, str]] = []
    for stage in ran:
        outs = {o["path"]: o for o in lock.get(stage.name, {}).get("outs", [])}
        run_id = runs[stage.name]
        for path, dataset in stage.outs.items():
            if not dataset or path not in outs:
                continue
            out = outs[path]
            existing = catalog.versions(ws, dataset)
            if existing and existing[-1].md5 == out["md5"]:
                continue
            number = (existing[-1].number or 0) + 1 if existing else 1
            fmt = tables.table_format(path)
            profile: dict[str, Any] = {}
            if fmt:
                profile = tables.profile(tables.read_arrow(ws.root / path, fmt, path))
            summary = catalog.summary_of(path, out, fmt, profile, stage=stage.name, run=run_id)
            message = f"written by stage {stage.name} (run {run_id[:8]})" + _read_by(ws, run_id)
            tag = tag_name(dataset, number)
            tags.append((tag, catalog.tag_message(message, summary, {"format": fmt, **profile})))
    files = [
        f for f in ("dvc.yaml", "dvc.lock", PARAMS_FILE, ".gitignore") if (ws.root / f).exists()
    ]
    changed = gitcmd.git(ws.root, "status", "--porcelain", "--", *files)
    if changed or tags:
        names = ", ".join(t for t, _ in tags) or "no new versions"
        gitcmd.commit_paths(ws.root, files, f"Pipeline run: {names}", more_tags=tags)
    return [t for t, _ in tags]


def _read_by(ws: Workspace, run_id: str) -> str:
    """`` from temps@v1, ...``: the dataset versions the stage's run loaded."""
    from .tracking import lineage, store

    tags = store.connect(ws).get_run(run_id).data.tags
    read = lineage.read_by_run(tags)
    return f" from {', '.join(d['ref'] for d in read)}" if read else ""


def dag(project: str | os.PathLike[str] | None = None) -> Any:
    """The pipeline drawn as an altair chart: stages left to right, coloured by status."""
    import pandas as pd

    from .views.vega import altair

    alt = altair()

    ws = Workspace.find(project)
    spec = _yaml_load(ws.root / "dvc.yaml").get("stages", {})
    if not spec:
        raise MlopsError("no stages yet; define one with `%track stage NAME NOTEBOOK`")
    writes = {_out_path(o): n for n, s in spec.items() for o in s.get("outs", [])}
    edges = sorted(
        {(writes[d], n) for n, s in spec.items() for d in s.get("deps", []) if d in writes}
    )
    layer: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in layer:
            ups = [a for a, b in edges if b == name and a not in seen]
            layer[name] = 1 + max((depth(a, (*seen, name)) for a in ups), default=-1)
        return layer[name]

    for name in spec:
        depth(name)
    states = status(ws.root)
    rows: list[dict[str, Any]] = []
    per_layer: dict[int, int] = {}
    for name in spec:
        y = per_layer.get(layer[name], 0)
        per_layer[layer[name]] = y + 1
        rows.append({"stage": name, "x": layer[name], "y": -y, "status": states.get(name, "")})
    nodes = pd.DataFrame(rows)
    pos = nodes.set_index("stage")
    lines = pd.DataFrame(
        [
            {"x": pos.x[a], "y": pos.y[a], "x2": pos.x[b], "y2": pos.y[b], "edge": f"{a} -> {b}"}
            for a, b in edges
        ],
        columns=["x", "y", "x2", "y2", "edge"],
    )
    axis = alt.Axis(labels=False, ticks=False, grid=False, title=None, domain=False)
    base_x = alt.X("x:Q", axis=axis, scale=alt.Scale(padding=60))
    base_y = alt.Y("y:Q", axis=axis, scale=alt.Scale(padding=40))
    arrows = alt.Chart(lines).mark_rule(color="#999").encode(x=base_x, y=base_y, x2="x2", y2="y2")
    dots = (
        alt.Chart(nodes)
        .mark_circle(size=900, opacity=0.9)
        .encode(
            x=base_x,
            y=base_y,
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=["up to date", "changed"], range=["#4caf50", "#ff9800"]),
            ),
            tooltip=["stage", "status"],
        )
    )
    labels = alt.Chart(nodes).mark_text(dy=-24).encode(x=base_x, y=base_y, text="stage:N")
    width = 160 * (max(layer.values()) + 1)
    return (arrows + dots + labels).properties(
        width=width, height=80 * max(per_layer.values()) + 40, title="pipeline"
    )
