import { IRunDetails, IRunRow, IRunsPage, request } from '../api';
import { el, note } from '../dom';
import { formatDate, formatValue, nextOrder, orderField, runName, visibleRange } from '../format';
import { IContext, Section } from './section';

const ROW = 22;
const FIRST_PAGE = '100'; // quick to show (about 60 ms over 10,000 runs)
const PAGE = '500'; // then larger pages as the reader scrolls

/**
 * Runs of the project, newest first: sortable by any column, filtered with MLflow's syntax, and
 * virtualized (only the rows in view exist in the page), so 10,000 runs scroll smoothly. Pages
 * are fetched as the list nears its end. A click shows the run's details.
 */
export class RunsSection extends Section {
  private rows: IRunRow[] = [];
  private metrics: string[] = [];
  private token: string | null = null;
  private order = 'attributes.start_time DESC';
  private filter = '';
  private experiment = '';
  private chosen: string[] | null = null;
  private readonly experiments = el('select', {
    className: 'mlops-input mlops-runs-experiment',
    attrs: { 'aria-label': 'experiment' }
  });
  private fetching = false;
  private readonly viewport = el('div', { className: 'mlops-runs-viewport' });
  private readonly spacer = el('div', { className: 'mlops-runs-spacer' });
  private readonly header = el('div', { className: 'mlops-runs-header mlops-runs-row' });
  private readonly details = el('div', { className: 'mlops-run-details' });
  private readonly count = el('span', { className: 'mlops-meta' });

  constructor(context: IContext) {
    super('runs', 'Runs', context);
    const filter = el('input', {
      className: 'mlops-input mlops-runs-filter',
      attrs: { placeholder: 'filter: metrics.rmse < 1', 'aria-label': 'run filter' }
    });
    filter.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.filter = filter.value.trim();
        void this.refresh();
      }
    });
    const metrics = el('input', {
      className: 'mlops-input mlops-runs-metrics',
      attrs: { placeholder: 'metrics: rmse, mae', 'aria-label': 'metrics shown' }
    });
    metrics.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        const names = metrics.value.split(',').map(m => m.trim()).filter(Boolean);
        this.chosen = names.length ? names : null;
        this.draw(true);
      }
    });
    this.experiments.addEventListener('change', () => {
      this.experiment = this.experiments.value;
      void this.refresh();
    });
    this.viewport.append(this.spacer);
    this.viewport.addEventListener('scroll', () => this.draw(false));
    this.node.append(
      el('div', { className: 'mlops-row-controls' }, [this.experiments, filter, metrics, this.count]),
      this.header,
      this.viewport,
      this.details
    );
  }

  /** The metric columns shown: chosen ones, else the first three the page has. */
  private get shownMetrics(): string[] {
    return (this.chosen ?? this.metrics.slice(0, 3)).map(m => `metrics.${m}`);
  }

  private get columns(): string[] {
    return ['name', 'status', 'started', ...this.shownMetrics];
  }

  /** On the timer, only while the list is at its top: never pull rows from under the reader. */
  tick(): Promise<void> {
    return this.viewport.scrollTop === 0 ? this.refresh() : Promise.resolve();
  }

  protected async load(): Promise<void> {
    const page = await this.fetch(null);
    this.rows = page.runs;
    this.metrics = page.metrics;
    this.token = page.next_page_token;
    this.experiments.replaceChildren(
      el('option', { text: 'all experiments', attrs: { value: '' } }),
      ...page.experiments.map(name => el('option', { text: name, attrs: { value: name } }))
    );
    this.experiments.value = this.experiment;
    this.viewport.scrollTop = 0;
    this.draw(true);
  }

  private fetch(token: string | null): Promise<IRunsPage> {
    return request<IRunsPage>('runs', {}, {
      experiment: this.experiment,
      order: this.order,
      filter: this.filter,
      max_results: token ? PAGE : FIRST_PAGE,
      page_token: token ?? ''
    });
  }

  private async more(): Promise<void> {
    if (this.fetching || !this.token) {
      return;
    }
    this.fetching = true;
    try {
      const page = await this.fetch(this.token);
      this.rows = this.rows.concat(page.runs);
      this.metrics = Array.from(new Set([...this.metrics, ...page.metrics]));
      this.token = page.next_page_token;
      this.draw(true);
    } finally {
      this.fetching = false;
    }
  }

  private draw(all: boolean): void {
    if (all) {
      this.header.replaceChildren(
        ...this.columns.map(column =>
          el('span', {
            className: `mlops-cell mlops-sortable${this.order.startsWith(orderField(column) + ' ') ? ' mlops-sorted' : ''}`,
            text: column.replace('metrics.', ''),
            title: `sort by ${column}`,
            onClick: () => {
              this.order = nextOrder(this.order, orderField(column));
              void this.refresh();
            }
          })
        )
      );
      this.spacer.style.height = `${this.rows.length * ROW}px`;
      this.count.textContent = `${this.rows.length.toLocaleString('en-US')}${this.token ? '+' : ''} run${this.rows.length === 1 && !this.token ? '' : 's'}`;
      if (!this.rows.length) {
        this.spacer.replaceChildren(note(this.filter ? 'No run matches the filter.' : 'No run yet: %%track a cell.'));
        return;
      }
    }
    const range = visibleRange(
      this.viewport.scrollTop,
      this.viewport.clientHeight || 300,
      ROW,
      this.rows.length
    );
    const shown: HTMLElement[] = [];
    for (let i = range.start; i < range.end; i++) {
      const run = this.rows[i];
      const row = el(
        'div',
        {
          className: `mlops-runs-row mlops-clickable mlops-status-${run.status.toLowerCase()}`,
          attrs: { 'data-run': run.run, 'data-cells': String(run.cells ?? '') },
          title: run.cells === 'non-linear' ? 'non-linear: its cells ran out of the notebook order' : '',
          onClick: () => void this.open(run.run)
        },
        this.columns.map(column =>
          el('span', {
            className: 'mlops-cell',
            text:
              column === 'started'
                ? formatDate(run.started)
                : column === 'name'
                  ? runName(run)
                  : formatValue(run[column])
          })
        )
      );
      row.style.top = `${i * ROW}px`;
      shown.push(row);
    }
    this.spacer.replaceChildren(...shown);
    if (range.end > this.rows.length - 50) {
      void this.more();
    }
  }

  private async open(run: string): Promise<void> {
    try {
      const found = await request<IRunDetails>(`runs/${encodeURIComponent(run)}`);
      const table = (title: string, values: Record<string, unknown>) =>
        el('div', {}, [
          el('h4', { text: title }),
          el(
            'table',
            { className: 'mlops-kv' },
            Object.entries(values).map(([k, v]) =>
              el('tr', {}, [el('td', { text: k }), el('td', { text: formatValue(v) })])
            )
          )
        ]);
      this.details.replaceChildren(
        el('h3', { text: `${found.name} (${found.id.slice(0, 8)}), ${found.status}` }),
        found.tags['mlops.cells.why']
          ? note(`Non-linear: ${found.tags['mlops.cells.why']}`, 'error')
          : el('span', {}),
        table('Parameters', found.params),
        table('Metrics', found.metrics),
        el('h4', { text: 'Data (lineage)' }),
        el(
          'ul',
          { className: 'mlops-list' },
          found.datasets.length
            ? found.datasets.map(d => el('li', { text: `${d.ref} (${d.context})` }))
            : [el('li', { text: 'no dataset recorded' })]
        )
      );
    } catch (error) {
      this.details.replaceChildren(note((error as Error).message, 'error'));
    }
  }
}
