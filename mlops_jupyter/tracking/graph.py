"""The lineage graph: dataset versions -> runs -> model versions -> endpoints -> monitors.

:func:`build` reads it from the project as it is (the data versions' git tags, the runs' recorded
reads in MLflow, the registry, the endpoints' records, the published dashboards).
:class:`Graph` walks it both ways (:meth:`Graph.upstream`: where a thing came from;
:meth:`Graph.downstream`: everything it reached) and draws itself in a notebook cell.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFoundError

KINDS = ("data", "run", "model", "endpoint", "monitor")
MAX_RUNS = 1000  # the newest runs searched for reads; older ones enter when a model names them


@dataclass(frozen=True)
class Node:
    """One thing in the graph: ``id`` is ``KIND:REF`` (``data:features@v1``, ``model:m/2``)."""

    id: str
    kind: str
    label: str
    detail: str = ""

    @property
    def ref(self) -> str:
        """How the rest of the API names it: ``features@v1``, a run id, ``m/2``, ``m``."""
        return self.id.split(":", 1)[1]


@dataclass
class Graph:
    """Nodes by id and the edges between them, each from the earlier thing to the later."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def find(self, ref: str) -> Node:
        """The node ``ref`` names: its id, or its ref (``features@v1``, ``m/2``, a run id or a
        prefix of one, an endpoint's name)."""
        if ref in self.nodes:
            return self.nodes[ref]
        found = [n for n in self.nodes.values() if n.ref == ref]
        found = found or [
            n for n in self.nodes.values()
            if (n.kind == "run" and n.ref.startswith(ref)) or n.label == ref
        ]  # fmt: skip
        if not found:
            raise NotFoundError(
                f"nothing named {ref!r} in the lineage; name a data version (features@v1), "
                "a run (its id or name), a model version (m/2) or an endpoint"
            )
        return found[0]

    def upstream(self, ref: str) -> Graph:
        """``ref`` and everything it came from (its model, the run, the data it read…)."""
        return self._reach(self.find(ref).id, backwards=True)

    def downstream(self, ref: str) -> Graph:
        """``ref`` and everything that came from it (runs, models, endpoints, monitors)."""
        return self._reach(self.find(ref).id, backwards=False)

    def around(self, ref: str) -> Graph:
        """What ``ref`` came from and what it reached, together."""
        up, down = self.upstream(ref), self.downstream(ref)
        return self._only(set(up.nodes) | set(down.nodes))

    def _reach(self, start: str, backwards: bool) -> Graph:
        step: dict[str, list[str]] = {}
        for a, b in self.edges:
            step.setdefault(b if backwards else a, []).append(a if backwards else b)
        seen, todo = {start}, [start]
        while todo:
            for nxt in step.get(todo.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return self._only(seen)

    def _only(self, keep: set[str]) -> Graph:
        return Graph(
            {k: n for k, n in self.nodes.items() if k in keep},
            [(a, b) for a, b in self.edges if a in keep and b in keep],
        )

    def as_dict(self) -> dict[str, Any]:
        """Nodes and edges as JSON (the sidebar's Lineage view draws this)."""
        return {
            "nodes": [
                {"id": n.id, "kind": n.kind, "label": n.label, "detail": n.detail, "ref": n.ref}
                for n in self.nodes.values()
            ],
            "edges": [{"source": a, "target": b} for a, b in self.edges],
        }

    def __repr__(self) -> str:
        counts = {k: sum(n.kind == k for n in self.nodes.values()) for k in KINDS}
        shown = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        return f"<lineage Graph: {shown or 'empty'}; {len(self.edges)} edges>"

    def _repr_svg_(self) -> str:
        return svg(self)


def _add(graph: Graph, node: Node) -> str:
    graph.nodes.setdefault(node.id, node)
    return node.id


def _link(graph: Graph, a: str, b: str) -> None:
    graph.edges.append((a, b))  # (repeats are dropped once, at the end of build)


def build(project: Any = None, max_runs: int = MAX_RUNS) -> Graph:
    """The project's lineage as it is now."""
    from mlflow.exceptions import MlflowException

    from ..datasets import catalog
    from ..workspace import Workspace
    from . import api, lineage, names

    ws = Workspace.find(project)
    graph = Graph()
    data_versions = catalog.versions(ws)
    for v in data_versions:
        rows = f"{v.rows:,} rows" if v.rows is not None else ""
        _add(
            graph, Node(f"data:{v.ref}", "data", v.ref, " · ".join(filter(None, [rows, v.message])))
        )
    client = api.client(ws.root)
    runs = {}
    for run in client.search_runs(names.experiment_ids(client), max_results=max_runs):
        runs[run.info.run_id] = run
    made = {v.run: v.ref for v in data_versions if v.run}  # versions a pipeline's run wrote
    versions = client.search_model_versions()
    producers = {mv.run_id for mv in versions if mv.run_id}  # runs that made a model version
    for run_id in producers - set(runs):
        try:
            runs[run_id] = client.get_run(run_id)
        except MlflowException:  # deleted since: the model version stands alone
            continue
    for run_id, run in runs.items():
        read = lineage.read_by_run(run.data.tags)
        if not read and run_id not in made and run_id not in producers:
            continue  # a run that touched no data and made no model: not lineage
        node = _add(graph, Node(f"run:{run_id}", "run", run.info.run_name or run_id[:8],
                                run.info.status.lower()))  # fmt: skip
        for d in read:
            if d.get("ref"):
                source = _add(graph, Node(f"data:{d['ref']}", "data", d["ref"]))
                _link(graph, source, node)
        if run_id in made:
            _link(graph, node, f"data:{made[run_id]}")
    aliases_of: dict[tuple[str, str], list[str]] = {}
    for model in client.search_registered_models():
        for alias, number in (model.aliases or {}).items():
            aliases_of.setdefault((model.name, str(number)), []).append(f"@{alias}")
    for mv in sorted(versions, key=lambda m: (m.name, int(m.version))):
        aliases = " ".join(sorted(aliases_of.get((mv.name, str(mv.version)), [])))
        node = _add(graph, Node(f"model:{mv.name}/{mv.version}", "model",
                                f"{mv.name} v{mv.version}", aliases))  # fmt: skip
        if f"run:{mv.run_id}" in graph.nodes:
            _link(graph, f"run:{mv.run_id}", node)
    _serving(ws, graph)
    graph.edges = list(dict.fromkeys(graph.edges))
    return graph


def _serving(ws: Any, graph: Graph) -> None:
    """Endpoints (from the models they serve) and their monitors (with a dashboard if one runs)."""
    from ..monitoring import publish
    from ..serving.endpoints import endpoints, record_of

    published = {d.endpoint: d.url for d in publish.dashboards(ws.root)}
    for endpoint in endpoints(ws.root):
        node = _add(graph, Node(f"endpoint:{endpoint.name}", "endpoint", endpoint.name,
                                endpoint.url))  # fmt: skip
        served = [(endpoint.model, endpoint.version)]
        try:
            challenger = record_of(endpoint).get("challenger")
        except (OSError, ValueError):
            challenger = None
        if challenger:
            served.append((challenger["model"], str(challenger["version"])))
        for model, version in served:
            source = _add(graph, Node(f"model:{model}/{version}", "model", f"{model} v{version}"))
            _link(graph, source, node)
        monitor = _add(graph, Node(f"monitor:{endpoint.name}", "monitor",
                                   f"{endpoint.name} scorecard",
                                   published.get(endpoint.name, "")))  # fmt: skip
        _link(graph, node, monitor)


BOX_W, BOX_H, GAP_X, GAP_Y = 170, 28, 60, 12


def positions(graph: Graph) -> dict[str, tuple[int, int]]:
    """A column per kind, each column ordered by where its nodes' sources are (one sweep of
    barycenters: few crossings for graphs of this shape); the top-left corner of each box."""
    sources: dict[str, list[str]] = {}
    for a, b in graph.edges:
        sources.setdefault(b, []).append(a)
    place: dict[str, tuple[int, int]] = {}
    rank: dict[str, float] = {}
    for col, kind in enumerate(KINDS):
        column = [n for n in graph.nodes.values() if n.kind == kind]

        def weight(n: Node) -> tuple[float, str]:
            ranks = [rank[s] for s in sources.get(n.id, []) if s in rank]
            return (sum(ranks) / len(ranks) if ranks else float("inf"), n.id)

        column.sort(key=weight if col else (lambda n: (0.0, n.id)))
        for row, n in enumerate(column):
            rank[n.id] = row
            place[n.id] = (col * (BOX_W + GAP_X), row * (BOX_H + GAP_Y))
    return place


COLOURS = {"data": "#e3f2fd", "run": "#fff8e1", "model": "#e8f5e9", "endpoint": "#f3e5f5",
           "monitor": "#fbe9e7"}  # fmt: skip


def svg(graph: Graph) -> str:
    """The graph as an SVG (what a notebook cell shows); labels are escaped text."""
    place = positions(graph)
    if not place:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="20">' \
               '<text x="0" y="14">No lineage yet.</text></svg>'  # fmt: skip
    width = max(x for x, _ in place.values()) + BOX_W + 2
    height = max(y for _, y in place.values()) + BOX_H + 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'
    ]
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = place[a], place[b]
        parts.append(
            f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H // 2}" x2="{x2}" y2="{y2 + BOX_H // 2}" '
            'stroke="#999"/>'
        )
    for node in graph.nodes.values():
        x, y = place[node.id]
        title = html.escape(
            f"{node.kind}: {node.label}" + (f" ({node.detail})" if node.detail else "")
        )
        parts.append(
            f'<g class="{node.kind}"><title>{title}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" '
            f'fill="{COLOURS[node.kind]}" stroke="#777"/>'
            f'<text x="{x + 6}" y="{y + 18}">{html.escape(_clip(node.label))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, room: int = 24) -> str:
    return text if len(text) <= room else text[: room - 1] + "…"
