// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';

import { lineChart, parallelCoordinates } from '../src/charts';

describe('charts', () => {
  it('overlays a line per run on shared axes', () => {
    const chart = lineChart('loss', [
      {
        label: 'a',
        colour: '#111',
        points: [
          [0, 1],
          [1, 0.5],
          [2, 0.25]
        ]
      },
      {
        label: '<b>b</b>',
        colour: '#222',
        points: [
          [0, 2],
          [4, 1]
        ]
      }
    ]);
    const lines = chart.querySelectorAll('polyline');
    expect(lines).toHaveLength(2);
    expect(lines[1].getAttribute('points')!.split(' ')).toHaveLength(2);
    expect(chart.querySelector('b')).toBeNull(); // a run's name is text
    expect(lines[1].querySelector('title')!.textContent).toBe('<b>b</b>');
    const texts = [...chart.querySelectorAll('text')].map(t => t.textContent);
    expect(texts).toEqual(expect.arrayContaining(['loss', '2', '0.250', 'step 0', '4']));
  });

  it('draws parameters against a metric, numbers and categories alike', () => {
    const chart = parallelCoordinates(
      [
        { name: 'alpha', values: ['0.1', '0.2', null] },
        { name: 'kind', values: ['tree', 'linear', 'tree'] },
        { name: 'rmse', values: [0.7, 0.8, 0.9] }
      ],
      ['r1', 'r2', 'r3']
    );
    const lines = [...chart.querySelectorAll<SVGPolylineElement>('.mlops-parallel-line')];
    expect(lines.map(l => l.dataset.run)).toEqual(['r1', 'r2', 'r3']);
    expect(lines[2].getAttribute('points')!.split(' ')).toHaveLength(2); // no alpha: skips that axis
    const ys = lines.map(l => Number(l.getAttribute('points')!.split(' ').pop()!.split(',')[1]));
    expect(ys[0]).toBeGreaterThan(ys[2]); // the lowest rmse lowest on its axis
    expect(lines[0].getAttribute('stroke')).not.toBe(lines[2].getAttribute('stroke'));
    const ticks = [...chart.querySelectorAll('.mlops-tick')].map(t => t.textContent);
    expect(ticks).toEqual(expect.arrayContaining(['linear', 'tree', '0.100', '0.200']));
  });
});
