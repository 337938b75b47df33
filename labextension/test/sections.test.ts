// @vitest-environment happy-dom
// The sections' DOM from the REST API's answers (canned here; tests/test_sidebar.py drives the
// real server in a real browser).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { DatasetsSection } from '../src/sections/datasets';
import { EndpointsSection } from '../src/sections/endpoints';
import { ModelsSection } from '../src/sections/models';
import { MonitorsSection } from '../src/sections/monitors';
import { RunsSection } from '../src/sections/runs';
import { IContext } from '../src/sections/section';

const ODD = '<img src=x onerror="alert(1)">';
let answers: Record<string, unknown> = {};
const asked: string[] = [];

function context(): IContext & { said: string[]; opened: string[][] } {
  const said: string[] = [];
  const opened: string[][] = [];
  return {
    said,
    opened,
    insert: code => `Inserted "${code}"`,
    say: message => said.push(message),
    refreshAll: () => undefined,
    openDiff: ref => opened.push(['diff', ref]),
    openRun: run => opened.push(['run', run]),
    openLineage: (ref, direction) => opened.push(['lineage', ref, direction]),
    openCompare: runs => opened.push(['compare', ...runs]),
    openEndpoint: name => opened.push(['endpoint', name])
  };
}

beforeEach(() => {
  asked.length = 0;
  vi.stubGlobal('fetch', async (request: Request) => {
    const route = new URL(request.url).pathname.split('/api/v1/')[1];
    asked.push(route);
    const body = answers[route];
    return body === undefined
      ? new Response(JSON.stringify({ message: `no ${route}` }), { status: 404 })
      : new Response(JSON.stringify(body), { status: 200 });
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const row = (i: number, extra = {}) => ({
  run: `abcd00${i}`.slice(0, 8),
  id: `abcd00${i}`.padEnd(32, '0'),
  name: `sweep-${i}`,
  status: 'FINISHED',
  started: '2026-12-01T10:00:00',
  seconds: 1,
  data: '',
  'metrics.rmse': i / 10,
  ...extra
});

describe('the Runs section', () => {
  it('lists runs as lines, counts them and chooses runs to compare', async () => {
    answers = {
      runs: {
        experiments: ['Default'],
        runs: [row(1, { name: ODD, cells: 'non-linear' }), row(2), row(3)],
        metrics: ['rmse'],
        params: [],
        next_page_token: null
      }
    };
    const ctx = context();
    const section = new RunsSection(ctx);
    await section.refresh();
    expect(section.title.label).toBe('Runs (3)');
    const rows = section.node.querySelectorAll<HTMLElement>('.mlops-runs-row[data-run]');
    expect(rows).toHaveLength(3);
    expect(section.node.querySelector('img')).toBeNull(); // a name is text
    expect(rows[0].textContent).toContain(ODD);
    expect(rows[0].dataset.cells).toBe('non-linear');
    rows[1].dispatchEvent(new MouseEvent('click'));
    expect(ctx.opened).toEqual([['run', 'abcd002']]);
    const compare = section.node.querySelector<HTMLButtonElement>('.mlops-runs-compare')!;
    expect(compare.classList.contains('mlops-none')).toBe(true); // hidden till runs are chosen
    for (const i of [1, 2]) {
      const chosen = section.node.querySelectorAll('.mlops-runs-row[data-run]')[i];
      chosen.dispatchEvent(new MouseEvent('click', { ctrlKey: true }));
    }
    expect(section.node.querySelectorAll('.mlops-runs-row.mlops-selected')).toHaveLength(2);
    expect(compare.textContent).toBe('Compare 2');
    compare.click();
    expect(ctx.opened[1]).toEqual(['compare', row(2).id, row(3).id]);
  });

  it('shows the server’s message when a filter is wrong', async () => {
    answers = {};
    const section = new RunsSection(context());
    await section.refresh();
    expect(section.node.querySelector('.mlops-note-error')!.textContent).toBe('no runs');
  });
});

describe('the other sections', () => {
  it('shows datasets with what changed, and opens a version’s lineage', async () => {
    answers = {
      datasets: [
        {
          name: 'features',
          versions: [
            {
              ref: 'features@v2',
              version: 'v2',
              rows: 1998,
              columns: 3,
              size: 100,
              created: null,
              message: ODD,
              files: null,
              folder: false,
              change: '-2 rows'
            },
            {
              ref: 'features@v1',
              version: 'v1',
              rows: 2000,
              columns: 3,
              size: 100,
              created: null,
              message: null,
              files: null,
              folder: false,
              change: 'first version'
            }
          ]
        }
      ]
    };
    const ctx = context();
    const section = new DatasetsSection(ctx);
    await section.refresh();
    expect(section.title.label).toBe('Datasets (1)');
    const v2 = section.node.querySelector<HTMLElement>('[data-ref="features@v2"]')!;
    expect(v2.querySelector('.mlops-change')!.textContent).toBe('-2 rows');
    expect(section.node.querySelector('img')).toBeNull();
    expect(section.node.querySelectorAll('.mlops-diff-open')).toHaveLength(1); // not the first
    v2.querySelector<HTMLElement>('.mlops-lineage-open')!.click();
    v2.querySelector<HTMLElement>('.mlops-diff-open')!.click();
    expect(ctx.opened).toEqual([
      ['lineage', 'features@v2', 'down'],
      ['diff', 'features@v2']
    ]);
    v2.click();
    expect(ctx.said).toEqual(['Inserted "df = %dataset load features@v2"']);
  });

  it('shows model versions, endpoints and monitors, each a line', async () => {
    answers = {
      models: [
        {
          name: 'm',
          aliases: { champion: 1 },
          versions: [
            {
              version: 1,
              aliases: ['champion'],
              run: 'abcd0001',
              run_name: 'fit',
              created: null,
              data: 'features@v1',
              metrics: { rmse: 0.5 }
            }
          ]
        }
      ],
      endpoints: [
        {
          endpoint: 'm',
          model: 'm@champion',
          version: '1',
          url: 'http://127.0.0.1:5100',
          uptime_s: 3,
          requests: 7,
          errors: 1,
          p95_ms: 2.5
        }
      ],
      monitors: [
        {
          endpoint: 'm',
          status: 'fail',
          checks: [{ monitor: '7 prediction quality', status: 'fail', evidence: 'accuracy 0.5' }],
          dashboard: null
        }
      ]
    };
    const ctx = context();
    const models = new ModelsSection(ctx);
    const endpoints = new EndpointsSection(ctx);
    const monitors = new MonitorsSection(ctx);
    await Promise.all([models.refresh(), endpoints.refresh(), monitors.refresh()]);
    const version = models.node.querySelector<HTMLElement>('.mlops-model-version')!;
    expect(version.querySelector('.mlops-alias')!.textContent).toBe('@champion');
    expect(version.querySelector('.mlops-model-metric')!.textContent).toBe('rmse 0.5');
    version.click();
    expect(endpoints.node.querySelector('.mlops-endpoint-model')!.textContent).toBe(
      'm@champion v1'
    );
    expect(endpoints.node.querySelector('.mlops-endpoint-traffic')!.textContent).toContain(
      '7 req · 1 err · p95 2.5 ms'
    );
    endpoints.node.querySelector<HTMLElement>('.mlops-endpoint-name')!.click();
    expect(ctx.opened).toEqual([
      ['lineage', 'm/1', 'both'],
      ['endpoint', 'm']
    ]);
    expect(monitors.title.label).toBe('Monitors (1 failing)');
    expect(monitors.node.querySelector('.mlops-check-fail')!.textContent).toContain('accuracy 0.5');
    monitors.node.querySelector<HTMLElement>('summary b')!.click();
    expect(ctx.opened.at(-1)).toEqual(['endpoint', 'm']);
  });
});
