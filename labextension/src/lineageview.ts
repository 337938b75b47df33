import { Widget } from '@lumino/widgets';

import { request } from './api';
import { el, note } from './dom';
import {
  IElkGraph,
  ILayoutEngine,
  ILineage,
  ILineageNode,
  KINDS,
  NODE_HEIGHT,
  layout,
  reach,
  shortLabel
} from './layout';

export type Direction = 'both' | 'up' | 'down';

/** What the lineage view asks of the lab around it. */
export interface ILineageActions {
  openRun(run: string): void;
  /** The view now shows another ref or direction (to be restored on reload). */
  moved(): void;
}

const SVG = 'http://www.w3.org/2000/svg';
const WHAT: Record<Direction, string> = {
  both: 'where it came from and what it reached',
  up: 'where it came from',
  down: 'what it reached'
};

let engine: Promise<ILayoutEngine> | null = null;

/** ELK, loaded the first time a graph is laid out (its 1.5 MB stay out of the sidebar's load). */
function elk(): Promise<ILayoutEngine> {
  engine ??= import('elkjs/lib/elk.bundled.js').then(
    module => new module.default() as unknown as ILayoutEngine
  );
  return engine;
}

/**
 * The lineage in the main area: data versions -> runs -> model versions -> endpoints ->
 * monitors, laid out by ELK. A click on a node lights up where it came from and what it reached
 * and offers to follow either way (the graph is fetched again around that node), or to open the
 * run's view.
 */
export class LineageView extends Widget {
  private readonly heading = el('div', { className: 'mlops-lineage-heading' });
  private readonly selected = el('div', { className: 'mlops-lineage-selected' });
  private readonly canvas = el('div', { className: 'mlops-lineage-canvas' });
  private readonly said = el('div', { className: 'mlops-meta', attrs: { role: 'status' } });
  private graph: ILineage = { nodes: [], edges: [] };
  private svg: SVGSVGElement | null = null;
  private fitted = false;
  private turns = 0; // walks started: an earlier walk answering late draws nothing

  constructor(
    public ref: string,
    public direction: Direction,
    private readonly actions: ILineageActions
  ) {
    super();
    this.id = 'mlops-lineage';
    this.addClass('mlops-lineage-view');
    this.title.label = 'Lineage';
    this.title.closable = true;
    const tools = el('div', { className: 'mlops-row-controls' }, [
      el('button', {
        className: 'jp-Button mlops-button',
        text: 'Whole project',
        title: 'every data version, run, model version, endpoint and monitor',
        onClick: () => void this.walk('', 'both')
      }),
      el('button', {
        className: 'jp-Button mlops-button',
        text: 'Fit',
        title: 'fit the graph to the view, or back to its full size',
        onClick: () => this.toggleFit()
      })
    ]);
    this.node.append(
      el('div', { className: 'mlops-lineage-bar' }, [this.heading, tools]),
      this.selected,
      this.canvas,
      this.said
    );
    void this.walk(ref, direction);
  }

  /** Show the lineage of `ref` ('' for the whole project) in `direction`. */
  async walk(ref: string, direction: Direction): Promise<void> {
    const turn = ++this.turns;
    this.ref = ref;
    this.direction = direction;
    this.actions.moved();
    this.heading.textContent = ref ? `${ref}: ${WHAT[direction]}` : 'The whole project';
    this.title.label = ref ? `Lineage: ${ref}` : 'Lineage';
    this.selected.replaceChildren();
    this.canvas.replaceChildren(note('Loading the lineage…'));
    this.said.textContent = '';
    let graph: ILineage;
    try {
      graph = await request<ILineage>('lineage', {}, { ref, direction });
    } catch (error) {
      if (turn === this.turns) {
        this.canvas.replaceChildren(note((error as Error).message, 'error'));
      }
      return;
    }
    if (turn !== this.turns) {
      return;
    }
    this.graph = graph;
    if (!this.graph.nodes.length) {
      this.canvas.replaceChildren(
        note('Nothing recorded yet: version data, track a run, register a model.')
      );
      return;
    }
    const started = performance.now();
    let laid: IElkGraph;
    try {
      laid = await layout(graph, await elk());
    } catch (error) {
      this.canvas.replaceChildren(
        note(`the graph could not be laid out: ${(error as Error).message}`, 'error')
      );
      return;
    }
    if (turn !== this.turns) {
      return;
    }
    const ms = Math.round(performance.now() - started);
    this.svg = draw(this.graph, laid, id => this.select(id));
    this.svg.classList.toggle('mlops-lineage-fit', this.fitted);
    this.canvas.replaceChildren(this.svg);
    this.canvas.dataset.layoutMs = String(ms);
    this.said.textContent = `${this.graph.nodes.length} nodes · ${this.graph.edges.length} edges · laid out in ${ms} ms`;
    const focus = ref ? this.graph.nodes.find(n => n.ref === ref || n.id === ref) : undefined;
    if (focus) {
      this.select(focus.id);
    }
  }

  /** Light up what `id` came from and what it reached; offer to follow it. */
  private select(id: string): void {
    const node = this.graph.nodes.find(n => n.id === id);
    if (!node || !this.svg) {
      return;
    }
    const up = reach(this.graph, id, true);
    const down = reach(this.graph, id, false);
    const lit = new Set([...up, ...down]);
    this.svg.classList.add('mlops-lineage-focused');
    this.svg.querySelectorAll<SVGGElement>('.mlops-lineage-node').forEach(shape => {
      shape.classList.toggle('mlops-lineage-lit', lit.has(shape.dataset.id!));
      shape.classList.toggle('mlops-lineage-chosen', shape.dataset.id === id);
    });
    this.svg.querySelectorAll<SVGPolylineElement>('.mlops-lineage-edge').forEach(line => {
      const [a, b] = [line.dataset.source!, line.dataset.target!];
      line.classList.toggle(
        'mlops-lineage-lit',
        (up.has(a) && up.has(b)) || (down.has(a) && down.has(b))
      );
    });
    const button = (text: string, title: string, onClick: () => void) =>
      el('button', { className: 'jp-Button mlops-button mlops-small', text, title, onClick });
    const buttons = [
      button(
        'Where it came from',
        `only ${node.ref} and what it came from`,
        () => void this.walk(node.ref, 'up')
      ),
      button(
        'What it reached',
        `only ${node.ref} and everything that came from it`,
        () => void this.walk(node.ref, 'down')
      )
    ];
    if (node.kind === 'run') {
      buttons.push(button('Open run', 'the run’s view', () => this.actions.openRun(node.ref)));
    }
    this.selected.replaceChildren(
      el('span', { className: `mlops-lineage-kind mlops-kind-${node.kind}`, text: node.kind }),
      el('b', { text: node.label }),
      el('span', { className: 'mlops-meta', text: node.detail }),
      el('span', {
        className: 'mlops-meta',
        text: `from ${up.size - 1} · reached ${down.size - 1}`
      }),
      ...buttons
    );
  }

  private toggleFit(): void {
    this.fitted = !this.fitted;
    this.svg?.classList.toggle('mlops-lineage-fit', this.fitted);
  }
}

/** The laid-out graph as SVG: a box per node coloured by kind, a line per edge. */
export function draw(
  graph: ILineage,
  laid: IElkGraph,
  onClick: (id: string) => void
): SVGSVGElement {
  const make = <K extends keyof SVGElementTagNameMap>(
    tag: K,
    attrs: Record<string, string | number>
  ) => {
    const shape = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) {
      shape.setAttribute(key, String(value));
    }
    return shape;
  };
  const width = Math.ceil((laid.width ?? 0) + 20);
  const height = Math.ceil((laid.height ?? 0) + 20);
  const svg = make('svg', {
    class: 'mlops-lineage-graph',
    width,
    height,
    viewBox: `-10 -10 ${width} ${height}`
  });
  const arrow = make('marker', {
    id: 'mlops-lineage-arrow',
    viewBox: '0 0 10 10',
    refX: 10,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto'
  });
  arrow.append(make('path', { d: 'M0,0 L10,5 L0,10 z' }));
  const defs = make('defs', {});
  defs.append(arrow);
  svg.append(defs);
  const byId = new Map(graph.nodes.map(n => [n.id, n]));
  graph.edges.forEach((edge, i) => {
    const section = laid.edges?.[i]?.sections?.[0];
    if (!section) {
      return;
    }
    const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
    const line = make('polyline', {
      class: 'mlops-lineage-edge',
      points: points.map(p => `${p.x},${p.y}`).join(' '),
      'marker-end': 'url(#mlops-lineage-arrow)'
    });
    line.dataset.source = edge.source;
    line.dataset.target = edge.target;
    svg.append(line);
  });
  for (const child of laid.children ?? []) {
    const node = byId.get(child.id) as ILineageNode;
    const group = make('g', {
      class: `mlops-lineage-node mlops-kind-${KINDS.includes(node.kind as never) ? node.kind : 'other'}`,
      transform: `translate(${child.x ?? 0},${child.y ?? 0})`
    });
    group.dataset.id = node.id;
    group.dataset.ref = node.ref;
    const title = make('title', {});
    title.textContent = `${node.kind}: ${node.label}${node.detail ? ` (${node.detail})` : ''}`;
    const text = make('text', { x: 12, y: NODE_HEIGHT / 2 + 4 });
    text.textContent = shortLabel(node.label); // text, never markup
    group.append(
      title,
      make('rect', { width: child.width ?? 0, height: NODE_HEIGHT, rx: 4 }),
      text
    );
    group.addEventListener('click', () => onClick(node.id));
    svg.append(group);
  }
  return svg;
}
