import { Widget } from '@lumino/widgets';

import { ICompare, request } from './api';
import { IAxis, PALETTE, lineChart, parallelCoordinates } from './charts';
import { el, note } from './dom';
import { formatDate, formatValue, statusIcon } from './format';

const MAX_AXES = 8; // parameters in the parallel-coordinates chart, besides the metric

/**
 * Runs side by side in the main area: a column per run, the parameters that differ highlighted
 * (or only those shown), metrics, the data each read; the metric histories overlaid; and
 * parallel coordinates of the parameters against a chosen metric. Restored on reload.
 */
export class CompareView extends Widget {
  private readonly body = el('div', { className: 'mlops-compare-body' });
  private readonly charts = el('div', { className: 'mlops-compare-charts' });
  private compared: ICompare | null = null;
  private onlyDiffering = false;

  constructor(
    readonly runs: string[],
    private readonly openRun: (run: string) => void
  ) {
    super();
    this.id = 'mlops-compare';
    this.addClass('mlops-compare-view');
    this.title.label = `Compare ${runs.length} runs`;
    this.title.closable = true;
    this.node.append(this.body, this.charts);
    void this.load();
  }

  private async load(): Promise<void> {
    this.body.replaceChildren(note('Loading the runs…'));
    const query = { runs: this.runs.join(',') };
    // the table first; the histories (a query per metric and run) follow, their failure kept
    const histories = request<ICompare>('compare', {}, { ...query, histories: '1' }).then(
      answer => answer.histories ?? {},
      (error: Error) => error
    );
    try {
      this.compared = await request<ICompare>('compare', {}, query);
    } catch (error) {
      this.body.replaceChildren(note((error as Error).message, 'error'));
      return;
    }
    this.draw();
    const drawn = await histories;
    if (drawn instanceof Error) {
      this.charts.append(note(`metric histories: ${drawn.message}`, 'error'));
    } else {
      this.drawHistories(drawn);
    }
  }

  private draw(): void {
    const c = this.compared!;
    const differ = new Set(c.differ);
    const colour = (i: number) => PALETTE[i % PALETTE.length];
    const head = el('tr', {}, [
      el('th', { text: `${c.runs.length} runs` }),
      ...c.runs.map((r, i) =>
        el(
          'th',
          {
            className: 'mlops-clickable mlops-compare-run',
            title: `${r.name} (${r.id}): open its view`,
            attrs: { 'data-run': r.id },
            onClick: () => this.openRun(r.id)
          },
          [
            el('span', { className: 'mlops-swatch', attrs: { style: `background:${colour(i)}` } }),
            `${statusIcon(r.status)} ${r.name}`,
            r.nonlinear
              ? el('span', {
                  className: 'mlops-nonlinear',
                  text: ' ↯',
                  title: `non-linear: ${r.nonlinear}`
                })
              : null
          ]
        )
      )
    ]);
    const row = (label: string, values: string[], className = '') =>
      el('tr', { className, attrs: { 'data-field': label } }, [
        el('td', { text: label }),
        ...values.map(v => el('td', { text: v }))
      ]);
    const group = (label: string) =>
      el('tr', { className: 'mlops-compare-group' }, [
        el('td', { text: label, attrs: { colspan: String(c.runs.length + 1) } })
      ]);
    const params = c.params.filter(p => !this.onlyDiffering || differ.has(p));
    const only = el('input', {
      attrs: { type: 'checkbox', 'aria-label': 'only the parameters that differ' }
    });
    only.checked = this.onlyDiffering;
    only.addEventListener('change', () => {
      this.onlyDiffering = only.checked;
      this.draw();
    });
    const table = el('table', { className: 'mlops-table mlops-compare-table' }, [
      el('thead', {}, [head]),
      el('tbody', {}, [
        row(
          'started',
          c.runs.map(r => formatDate(r.start_time))
        ),
        row(
          'data',
          c.runs.map(r => r.data)
        ),
        group(`Parameters (${c.differ.length} of ${c.params.length} differ)`),
        ...params.map(p =>
          row(
            p,
            c.runs.map(r => r.params[p] ?? '—'),
            differ.has(p) ? 'mlops-compare-differs' : ''
          )
        ),
        group('Metrics'),
        ...c.metrics.map(m =>
          row(
            m,
            c.runs.map(r => (m in r.metrics ? formatValue(r.metrics[m]) : '—'))
          )
        )
      ])
    ]);
    this.body.replaceChildren(
      el('label', { className: 'mlops-meta mlops-compare-only' }, [
        only,
        ' only the parameters that differ'
      ]),
      el('div', { className: 'mlops-compare-scroll' }, [table]),
      this.parallel()
    );
  }

  /** Parameters against a metric (chosen in the select), a line per run. */
  private parallel(): HTMLElement {
    const c = this.compared!;
    if (!c.metrics.length) {
      return note('No metric to chart.');
    }
    const chosen = el(
      'select',
      { className: 'mlops-input', attrs: { 'aria-label': 'metric' } },
      c.metrics.map(m => el('option', { text: m, attrs: { value: m } }))
    );
    const box = el('div', { className: 'mlops-compare-parallel' });
    const drawn = () => {
      const metric = chosen.value;
      const params = (c.differ.length ? c.differ : c.params).slice(0, MAX_AXES);
      const axes: IAxis[] = [
        ...params.map(p => ({ name: p, values: c.runs.map(r => r.params[p] ?? null) })),
        { name: metric, values: c.runs.map(r => r.metrics[metric] ?? null) }
      ];
      box.replaceChildren(
        parallelCoordinates(
          axes,
          c.runs.map(r => r.name)
        )
      );
    };
    chosen.addEventListener('change', drawn);
    drawn();
    return el('div', {}, [
      el('h3', {}, ['Parameters against ', chosen]),
      el('div', {
        className: 'mlops-meta',
        text: 'A line per run, coloured by the metric: blue low, red high.'
      }),
      box
    ]);
  }

  private drawHistories(histories: Record<string, Record<string, [number, number][]>>): void {
    const c = this.compared!;
    const metrics = Object.keys(histories);
    if (!metrics.length) {
      return;
    }
    const index = new Map(c.runs.map((r, i) => [r.id, i]));
    this.charts.replaceChildren(
      el('h3', { text: 'Metric histories' }),
      el(
        'div',
        { className: 'mlops-compare-histories' },
        metrics.map(metric =>
          lineChart(
            metric,
            Object.entries(histories[metric]).map(([id, points]) => ({
              label: c.runs[index.get(id) ?? 0].name,
              colour: PALETTE[(index.get(id) ?? 0) % PALETTE.length],
              points
            }))
          )
        )
      )
    );
  }
}
