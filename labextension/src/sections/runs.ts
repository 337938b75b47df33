import { IRunRow, IRunsPage, request } from '../api';
import { el, note } from '../dom';
import {
  formatDate,
  formatValue,
  nextOrder,
  orderField,
  runName,
  statusIcon,
  visibleRange
} from '../format';
import { IContext, Section } from './section';

const ROW = 22;
const FIRST_PAGE = '100'; // quick to show (about 60 ms over 10,000 runs)
const PAGE = '500'; // then larger pages as the reader scrolls

/**
 * Runs of the project, newest first: sortable by any column, filtered with MLflow's syntax, and
 * virtualized (only the rows in view exist in the page), so 10,000 runs scroll smoothly. Pages
 * are fetched as the list nears its end. A click opens the run's view in the main area; a
 * Ctrl-, Cmd- or Shift-click chooses runs for the Compare view.
 *
 * A row is the run's name, a status icon and its metrics, then when it started; at the sidebar's
 * default width (about 250 px) only the name, the icon and the first metric show (the CSS
 * container query in style/index.css), the rest on hover and in the run's view.
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
  private readonly count = el('span', { className: 'mlops-meta' });
  /** The runs chosen to compare (whole ids), by Ctrl-, Cmd- or Shift-click. */
  private readonly selected = new Set<string>();
  private readonly compare = el('button', {
    className: 'jp-Button mlops-button mlops-small mlops-runs-compare',
    text: 'Compare',
    title: 'Ctrl-click (or Shift-click) two runs or more, then compare them side by side'
  });

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
        const names = metrics.value
          .split(',')
          .map(m => m.trim())
          .filter(Boolean);
        this.chosen = names.length ? names : null;
        this.draw(true);
      }
    });
    this.experiments.addEventListener('change', () => {
      this.experiment = this.experiments.value;
      void this.refresh();
    });
    this.compare.classList.add('mlops-none');
    this.compare.addEventListener('click', () => {
      if (this.selected.size < 2) {
        this.context.say('Ctrl-click (or Shift-click) two runs or more to compare them', 'error');
        return;
      }
      this.context.openCompare([...this.selected]);
    });
    this.viewport.append(this.spacer);
    this.viewport.addEventListener('scroll', () => this.draw(false));
    this.node.append(
      el('div', { className: 'mlops-row-controls' }, [
        this.experiments,
        filter,
        metrics,
        this.compare,
        this.count
      ]),
      this.header,
      this.viewport
    );
  }

  /** The metric columns shown: chosen ones, else the first three the page has. */
  private get shownMetrics(): string[] {
    return (this.chosen ?? this.metrics.slice(0, 3)).map(m => `metrics.${m}`);
  }

  private get columns(): string[] {
    return ['name', 'status', ...this.shownMetrics, 'started'];
  }

  /** The CSS classes of a column's cells: its kind, and a metric's place among the shown. */
  private columnClass(column: string): string {
    const metric = this.shownMetrics.indexOf(column);
    return metric >= 0 ? `mlops-col-metric mlops-col-metric-${metric}` : `mlops-col-${column}`;
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
    return request<IRunsPage>(
      'runs',
      {},
      {
        experiment: this.experiment,
        order: this.order,
        filter: this.filter,
        max_results: token ? PAGE : FIRST_PAGE,
        page_token: token ?? ''
      }
    );
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

  /** Add a run to the compare, or take it out. */
  private choose(id: string): void {
    if (!this.selected.delete(id)) {
      this.selected.add(id);
    }
    this.compare.textContent = `Compare ${this.selected.size}`;
    this.compare.classList.toggle('mlops-none', !this.selected.size); // room for the list till then
    this.draw(false);
  }

  private draw(all: boolean): void {
    if (all) {
      this.header.replaceChildren(
        ...this.columns.map(column =>
          el('span', {
            className: `mlops-cell ${this.columnClass(column)} mlops-sortable${this.order.startsWith(orderField(column) + ' ') ? ' mlops-sorted' : ''}`,
            text: column === 'status' ? '' : column.replace('metrics.', ''),
            title: `sort by ${column}`,
            onClick: () => {
              this.order = nextOrder(this.order, orderField(column));
              void this.refresh();
            }
          })
        )
      );
      this.spacer.style.height = `${this.rows.length * ROW}px`;
      const counted = `${this.rows.length.toLocaleString('en-US')}${this.token ? '+' : ''}`;
      this.count.textContent = `${counted} run${this.rows.length === 1 && !this.token ? '' : 's'}`;
      this.setCount(counted);
      if (!this.rows.length) {
        this.spacer.replaceChildren(
          note(this.filter ? 'No run matches the filter.' : 'No run yet: %%track a cell.')
        );
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
      const chosen = this.selected.has(run.id);
      const row = el(
        'div',
        {
          className: `mlops-runs-row mlops-clickable mlops-status-${run.status.toLowerCase()}${chosen ? ' mlops-selected' : ''}`,
          attrs: {
            'data-run': run.run,
            'data-cells': String(run.cells ?? ''),
            'aria-selected': String(chosen)
          },
          title: [
            `${run.name}: ${run.status.toLowerCase()}, started ${formatDate(run.started)}`,
            ...this.shownMetrics.map(m => `${m.replace('metrics.', '')} ${formatValue(run[m])}`),
            run.cells === 'non-linear' ? 'non-linear: its cells ran out of the notebook order' : '',
            'Click: its view · Ctrl-click: choose it to compare'
          ]
            .filter(Boolean)
            .join('\n'),
          onClick: event =>
            event.ctrlKey || event.metaKey || event.shiftKey
              ? this.choose(run.id)
              : this.context.openRun(run.run)
        },
        this.columns.map(column =>
          el('span', {
            className: `mlops-cell ${this.columnClass(column)}`,
            text:
              column === 'started'
                ? formatDate(run.started)
                : column === 'name'
                  ? runName(run)
                  : column === 'status'
                    ? statusIcon(run.status)
                    : formatValue(run[column]),
            attrs: column === 'status' ? { 'aria-label': run.status.toLowerCase() } : {}
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
}
