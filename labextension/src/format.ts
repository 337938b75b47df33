/**
 * Pure helpers of the sidebar: formatting, the snippet a version inserts, and which rows of a
 * virtual list are visible. No DOM and no JupyterLab here, so they are unit-tested directly.
 */

/** 1536 -> "1.5 KB"; null -> "". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** 8759 -> "8,759 rows"; null -> "". */
export function formatRows(rows: number | null | undefined): string {
  if (rows === null || rows === undefined) {
    return '';
  }
  return `${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}`;
}

/** A metric or parameter value, short: 0.638143 -> "0.6381", 12 -> "12". */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    return Math.abs(value) >= 1000 || Math.abs(value) < 0.001
      ? value.toPrecision(3)
      : String(Number(value.toPrecision(4)));
  }
  return String(value);
}

/** An ISO date (or epoch ms) as "2026-11-25 12:03". */
export function formatDate(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') {
    return '';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** What clicking a dataset version puts in the notebook. */
export function loadSnippet(ref: string, variable = 'df'): string {
  return `${variable} = %dataset load ${ref}`;
}

/** The CSS modifier of a scorecard status; anything unknown shows as a warning. */
export function statusClass(status: string | null | undefined): string {
  return status === 'pass' || status === 'fail' ? status : 'warn';
}

export interface IRange {
  start: number;
  end: number;
}

/**
 * The rows a virtual list renders: those in view plus `overscan` either side.
 * `end` is exclusive and never beyond `total`.
 */
export function visibleRange(
  scrollTop: number,
  viewHeight: number,
  rowHeight: number,
  total: number,
  overscan = 10
): IRange {
  if (total <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0 };
  }
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first, total - 1) - overscan);
  const end = Math.min(total, first + shown + overscan);
  return { start, end };
}

/** The MLflow `order_by` a click on a column header asks for (toggles on the same column). */
export function nextOrder(current: string, column: string): string {
  const cut = current.lastIndexOf(' ');
  const field = cut < 0 ? current : current.slice(0, cut);
  const direction = cut < 0 ? 'DESC' : current.slice(cut + 1);
  if (field === column) {
    return `${column} ${direction === 'DESC' ? 'ASC' : 'DESC'}`;
  }
  return `${column} DESC`;
}

/** The MLflow search field of a runs-table column: "metrics.rmse", "attributes.start_time". */
export function orderField(column: string): string {
  if (column.startsWith('metrics.') || column.startsWith('params.')) {
    const dot = column.indexOf('.');
    return `${column.slice(0, dot)}.\`${column.slice(dot + 1)}\``;
  }
  const attributes: Record<string, string> = {
    started: 'attributes.start_time',
    name: 'attributes.run_name',
    status: 'attributes.status'
  };
  return attributes[column] ?? column;
}

/** A diff's cell as text: empty for a missing value; numbers to 10 digits, so that a small
 * change still shows while float noise (40.45000000000001) does not. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'number' ? String(Number(value.toPrecision(10))) : String(value);
}

/** Whether a changed row's two cells differ (missing and missing are the same). */
export function cellsDiffer(before: unknown, after: unknown): boolean {
  const missing = (v: unknown) => v === null || v === undefined;
  if (missing(before) || missing(after)) {
    return missing(before) !== missing(after);
  }
  return before !== after;
}

/** A run's name as listed: marked when its cells ran out of the notebook's order (the run's
 * `cells` column, from the tag `mlops.cells`). */
export function runName(run: { name: string; cells?: unknown }): string {
  return run.cells === 'non-linear' ? `↯ ${run.name}` : run.name;
}

/** A run's status as one character for a narrow list (the word goes in its title). */
export function statusIcon(status: string): string {
  const icons: Record<string, string> = {
    FINISHED: '✓',
    FAILED: '✗',
    KILLED: '■',
    RUNNING: '▶',
    SCHEDULED: '…'
  };
  return icons[status] ?? '?';
}

/** [step, value] points as an SVG polyline's `points` in a `width` x `height` box (1 px inset;
 * a constant series is a flat line in the middle). */
export function sparkline(points: [number, number][], width: number, height: number): string {
  if (!points.length) {
    return '';
  }
  const steps = points.map(p => p[0]);
  const values = points.map(p => p[1]);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...values), Math.max(...values)];
  const x = (step: number) => (x1 === x0 ? width / 2 : 1 + ((step - x0) / (x1 - x0)) * (width - 2));
  const y = (value: number) =>
    y1 === y0 ? height / 2 : height - 1 - ((value - y0) / (y1 - y0)) * (height - 2);
  return points.map(([s, v]) => `${Number(x(s).toFixed(1))},${Number(y(v).toFixed(1))}`).join(' ');
}
