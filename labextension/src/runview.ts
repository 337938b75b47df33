import { Widget } from '@lumino/widgets';

import { IRunDetails, request } from './api';
import { el, note } from './dom';
import { formatDate, formatValue, loadSnippet, sparkline, statusIcon } from './format';

/** What a run's view can do beyond showing: put code in the notebook, open a file. */
export interface IRunActions {
  insert(code: string): string;
  openFile(path: string): void;
  openLineage(ref: string): void;
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * A run in the main area: its parameters, metrics with their histories, the data versions it
 * read, where its code came from, and buttons to reproduce it, register it or open its notebook.
 * Restored on reload (the tab remembers the run's id).
 */
export class RunView extends Widget {
  private readonly body = el('div', { className: 'mlops-run-body' });
  private readonly said = el('div', {
    className: 'mlops-meta mlops-run-said',
    attrs: { role: 'status' }
  });

  constructor(
    readonly run: string,
    private readonly actions: IRunActions
  ) {
    super();
    this.id = `mlops-run-${run}`;
    this.addClass('mlops-run-view');
    this.title.label = `Run ${run.slice(0, 8)}`;
    this.title.closable = true;
    this.node.append(this.body, this.said);
    void this.load();
  }

  private async load(): Promise<void> {
    this.body.replaceChildren(note('Loading the run…'));
    let run: IRunDetails;
    try {
      run = await request<IRunDetails>(`runs/${encodeURIComponent(this.run)}`);
    } catch (error) {
      this.body.replaceChildren(note((error as Error).message, 'error'));
      return;
    }
    this.title.label = `Run ${run.name}`;
    this.body.replaceChildren(...this.render(run));
  }

  private render(run: IRunDetails): HTMLElement[] {
    const seconds = run.end_time ? Math.round((run.end_time - run.start_time) / 1000) : null;
    const why = run.tags['mlops.cells.why'];
    const notebook = run.source.notebook;
    const button = (text: string, title: string, onClick: () => void) =>
      el('button', { className: 'jp-Button mlops-button', text, title, onClick });
    const ref = run.id.slice(0, 12); // a name may repeat or hold spaces; an id prefix is one run
    const actions = el('div', { className: 'mlops-row-controls' }, [
      button('Reproduce', 'run it again with the data versions it read, and compare', () =>
        this.say(this.actions.insert(`result = %track reproduce ${ref}`))
      ),
      button('Register', 'register its model (name it in the inserted line)', () =>
        this.say(this.actions.insert(`%track register ${ref} --name MODEL`))
      ),
      button('Lineage', 'the data it read and the models and endpoints it reached', () =>
        this.actions.openLineage(run.id)
      ),
      run.source.path
        ? button('Open notebook', run.source.path, () => this.actions.openFile(run.source.path!))
        : null
    ]);
    const metricRows = Object.entries(run.metrics).map(([name, value]) =>
      el('tr', { attrs: { 'data-metric': name } }, [
        el('td', { text: name }),
        el('td', { className: 'mlops-number', text: formatValue(value) }),
        el('td', {}, [run.histories[name] ? chart(run.histories[name], name) : null])
      ])
    );
    const source = Object.entries({
      notebook: notebook,
      commit: run.source.commit ? run.source.commit.slice(0, 12) : null,
      branch: run.source.branch,
      'uncommitted changes': run.source.dirty,
      python: run.source.python,
      seed: run.source.seed
    }).filter(([, v]) => v);
    return [
      el('h2', { className: 'mlops-run-title' }, [
        el('span', {
          className: `mlops-run-status mlops-status-${run.status.toLowerCase()}`,
          text: statusIcon(run.status)
        }),
        ` ${run.name}`
      ]),
      el('div', {
        className: 'mlops-meta',
        text: [
          run.status.toLowerCase(),
          `started ${formatDate(run.start_time)}`,
          seconds === null ? '' : `${seconds} s`,
          `id ${run.id}`
        ]
          .filter(Boolean)
          .join(' · ')
      }),
      why ? note(`Non-linear: ${why}`, 'error') : el('span'),
      actions,
      el('h3', { text: 'Metrics' }),
      metricRows.length
        ? el('table', { className: 'mlops-table mlops-run-metrics' }, metricRows)
        : note('No metric logged.'),
      el('h3', { text: 'Parameters' }),
      table(run.params, 'No parameter.'),
      el('h3', { text: 'Data it read' }),
      run.datasets.length
        ? el(
            'ul',
            { className: 'mlops-list' },
            run.datasets.map(d =>
              el(
                'li',
                {
                  className: 'mlops-clickable mlops-run-data',
                  title: `Insert: ${loadSnippet(d.ref)}`,
                  attrs: { 'data-ref': d.ref }
                },
                [
                  el('span', {
                    className: 'mlops-ref',
                    text: d.ref,
                    onClick: () => this.say(this.actions.insert(loadSnippet(d.ref)))
                  }),
                  el('span', { className: 'mlops-meta', text: d.context })
                ]
              )
            )
          )
        : note('No dataset recorded.'),
      el('h3', { text: 'Code' }),
      table(Object.fromEntries(source), 'Not recorded.')
    ];
  }

  private say(message: string): void {
    this.said.textContent = message;
  }
}

function table(values: Record<string, unknown>, empty: string): HTMLElement {
  const rows = Object.entries(values);
  if (!rows.length) {
    return note(empty);
  }
  return el(
    'table',
    { className: 'mlops-table mlops-kv' },
    rows.map(([k, v]) => el('tr', {}, [el('td', { text: k }), el('td', { text: formatValue(v) })]))
  );
}

/** A metric's history as a small line chart (SVG; the first and last values as its title). */
function chart(points: [number, number][], name: string): SVGSVGElement {
  const width = 160;
  const height = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'mlops-spark');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const title = document.createElementNS(SVG, 'title');
  const first = points[0];
  const last = points[points.length - 1];
  title.textContent = `${name}: ${formatValue(first[1])} at step ${first[0]} → ${formatValue(last[1])} at step ${last[0]} (${points.length} points)`;
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', sparkline(points, width, height));
  line.setAttribute('fill', 'none');
  svg.append(title, line);
  return svg;
}
