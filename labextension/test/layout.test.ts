// @vitest-environment happy-dom
import ELK from 'elkjs/lib/elk.bundled.js';
import { describe, expect, it } from 'vitest';

import { ILayoutEngine, ILineage, elkGraph, layers, layout, orders, reach } from '../src/layout';
import { draw } from '../src/lineageview';

const node = (id: string, label = id.split(':')[1]) => ({
  id,
  kind: id.split(':')[0],
  label,
  detail: '',
  ref: label
});

/** Raw data -> a run that cleans it -> clean data -> two runs -> a model each; one is served. */
const project: ILineage = {
  nodes: [
    'data:raw@v1',
    'run:clean',
    'data:clean@v1',
    'run:a',
    'run:b',
    'model:m/1',
    'model:m/2',
    'endpoint:m',
    'monitor:m'
  ].map(id => node(id)),
  edges: [
    ['data:raw@v1', 'run:clean'],
    ['run:clean', 'data:clean@v1'],
    ['data:clean@v1', 'run:a'],
    ['data:clean@v1', 'run:b'],
    ['run:a', 'model:m/1'],
    ['run:b', 'model:m/2'],
    ['model:m/2', 'endpoint:m'],
    ['endpoint:m', 'monitor:m']
  ].map(([source, target]) => ({ source, target }))
};
const engine = new ELK() as unknown as ILayoutEngine;

describe('the lineage layout', () => {
  it('points every edge right: data a run wrote comes after the run', () => {
    const layer = layers(project);
    for (const e of project.edges) {
      expect(layer.get(e.source)!).toBeLessThan(layer.get(e.target)!);
    }
    expect(layer.get('data:clean@v1')).toBe(2);
  });

  it('orders a layer by kind where nothing else decides, and survives a cycle', () => {
    const mixed: ILineage = {
      nodes: [node('model:m/1'), node('data:d@v1'), node('run:r')],
      edges: [
        { source: 'run:r', target: 'run:r' },
        { source: 'data:d@v1', target: 'run:r' },
        { source: 'run:r', target: 'data:d@v1' }
      ]
    };
    const layer = layers(mixed);
    expect(layer.size).toBe(3);
    const order = orders(mixed, layer);
    expect(order.get('data:d@v1')).toBeLessThan(order.get('model:m/1')!);
  });

  it('lets ELK place the nodes without overlap and route every edge', async () => {
    const laid = await layout(project, engine);
    const at = new Map(laid.children!.map(c => [c.id, c]));
    for (const e of project.edges) {
      expect(at.get(e.source)!.x!).toBeLessThan(at.get(e.target)!.x!);
    }
    const boxes = [...at.values()];
    for (const a of boxes) {
      for (const b of boxes) {
        const apart =
          a.x! + a.width! <= b.x! ||
          b.x! + b.width! <= a.x! ||
          a.y! + a.height! <= b.y! ||
          b.y! + b.height! <= a.y!;
        expect(a === b || apart).toBe(true);
      }
    }
    expect(laid.edges!.every(e => e.sections?.length)).toBe(true);
  });

  it('lays out a long chain of versions without running out of stack', () => {
    const chain: ILineage = { nodes: [], edges: [] };
    for (let i = 0; i < 20_000; i++) {
      chain.nodes.push(node(`data:d@v${i}`));
      if (i) {
        chain.edges.push({ source: `data:d@v${i - 1}`, target: `data:d@v${i}` });
      }
    }
    expect(layers(chain).get('data:d@v19999')).toBe(19_999);
    expect(elkGraph(chain).children).toHaveLength(20_000);
  });

  it('walks both ways from a node', () => {
    expect([...reach(project, 'endpoint:m', true)].sort()).toEqual(
      ['data:clean@v1', 'data:raw@v1', 'endpoint:m', 'model:m/2', 'run:b', 'run:clean'].sort()
    );
    expect(reach(project, 'data:clean@v1', false)).toEqual(
      new Set([
        'data:clean@v1',
        'run:a',
        'run:b',
        'model:m/1',
        'model:m/2',
        'endpoint:m',
        'monitor:m'
      ])
    );
  });
});

describe('the lineage drawing', () => {
  it('draws names as text and says which node was clicked', async () => {
    const name = '<img src=x onerror="alert(1)">';
    const graph: ILineage = {
      nodes: [node('run:r1', name), node('model:m/1')],
      edges: [{ source: 'run:r1', target: 'model:m/1' }]
    };
    const clicked: string[] = [];
    const svg = draw(graph, await layout(graph, engine), id => clicked.push(id));
    expect(svg.querySelector('img')).toBeNull();
    expect(svg.querySelectorAll('.mlops-lineage-node')).toHaveLength(2);
    expect(svg.querySelectorAll('.mlops-lineage-edge')).toHaveLength(1);
    expect(svg.querySelector('title')!.textContent).toBe(`run: ${name}`);
    expect(svg.querySelector('text')!.textContent).toBe('<img src=x onerror="alert(1…');
    svg.querySelector<SVGGElement>('[data-id="model:m/1"]')!.dispatchEvent(new Event('click'));
    expect(clicked).toEqual(['model:m/1']);
  });
});
