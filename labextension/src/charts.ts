/**
 * Small SVG charts for the Compare view: metric histories overlaid, and parallel coordinates
 * (parameters against a metric). Every label is set as text.
 */

const SVG = 'http://www.w3.org/2000/svg';
/** One colour per run (Tableau 10), repeated beyond ten. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

export function svgEl<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export interface ISeries {
  label: string;
  colour: string;
  points: [number, number][];
}

/** Lines on shared axes (step across, value up), the extremes written at the axes' ends. */
export function lineChart(
  title: string,
  series: ISeries[],
  width = 360,
  height = 170,
  across = 'step'
): SVGSVGElement {
  const pad = { left: 48, right: 8, top: 18, bottom: 20 };
  const all = series.flatMap(s => s.points);
  const [x0, x1] = extent(all.map(p => p[0]));
  const [y0, y1] = extent(all.map(p => p[1]));
  const x = (v: number) => pad.left + ((v - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const y = (v: number) =>
    height - pad.bottom - ((v - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);
  const svg = svgEl('svg', {
    class: 'mlops-chart',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`
  });
  svg.append(
    svgEl('text', { x: pad.left, y: 12, class: 'mlops-chart-title' }, title),
    svgEl('line', {
      x1: pad.left,
      y1: height - pad.bottom,
      x2: width - pad.right,
      y2: height - pad.bottom,
      class: 'mlops-axis'
    }),
    svgEl('line', {
      x1: pad.left,
      y1: pad.top,
      x2: pad.left,
      y2: height - pad.bottom,
      class: 'mlops-axis'
    }),
    svgEl('text', { x: pad.left - 4, y: pad.top + 8, 'text-anchor': 'end' }, short(y1)),
    svgEl('text', { x: pad.left - 4, y: height - pad.bottom, 'text-anchor': 'end' }, short(y0)),
    svgEl('text', { x: pad.left, y: height - 6 }, `${across} ${short(x0)}`),
    svgEl('text', { x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, short(x1))
  );
  for (const s of series) {
    const line = svgEl('polyline', {
      points: s.points.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '),
      stroke: s.colour,
      class: 'mlops-chart-line'
    });
    line.append(svgEl('title', {}, s.label));
    svg.append(line);
  }
  return svg;
}

export interface IAxis {
  name: string;
  /** One value per line (a run); null where the run has none. */
  values: (string | number | null)[];
}

/**
 * Parallel coordinates: a vertical axis per parameter and the metric last, a line per run
 * through its values, coloured by the metric (low blue, high red). Numbers get a linear axis,
 * anything else evenly spaced categories.
 */
export function parallelCoordinates(
  axes: IAxis[],
  labels: string[],
  width = 760,
  height = 260
): SVGSVGElement {
  const pad = { left: 60, right: 60, top: 28, bottom: 16 };
  const svg = svgEl('svg', {
    class: 'mlops-chart mlops-parallel',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`
  });
  const step = axes.length > 1 ? (width - pad.left - pad.right) / (axes.length - 1) : 0;
  const scales = axes.map(axis => scale(axis.values, pad.top, height - pad.bottom));
  const metric = scales[scales.length - 1];
  const colour = (i: number): string => {
    const v = axes[axes.length - 1].values[i];
    if (typeof v !== 'number' || metric.kind !== 'number') {
      return 'var(--jp-ui-font-color3)';
    }
    const t = metric.span ? (v - metric.low) / metric.span : 0.5;
    return `hsl(${Math.round(220 - 220 * t)}, 70%, 50%)`;
  };
  labels.forEach((label, i) => {
    const points = axes
      .map((axis, a) =>
        axis.values[i] === null
          ? null
          : `${(pad.left + a * step).toFixed(1)},${scales[a].at(axis.values[i]!).toFixed(1)}`
      )
      .filter(Boolean);
    const line = svgEl('polyline', {
      points: points.join(' '),
      stroke: colour(i),
      class: 'mlops-parallel-line'
    });
    line.dataset.run = label;
    line.append(svgEl('title', {}, label));
    svg.append(line);
  });
  axes.forEach((axis, a) => {
    const ax = pad.left + a * step;
    svg.append(
      svgEl('line', { x1: ax, y1: pad.top, x2: ax, y2: height - pad.bottom, class: 'mlops-axis' }),
      svgEl(
        'text',
        { x: ax, y: 12, 'text-anchor': 'middle', class: 'mlops-chart-title' },
        axis.name
      )
    );
    for (const [text, at] of scales[a].ticks) {
      svg.append(svgEl('text', { x: ax + 4, y: at + 4, class: 'mlops-tick' }, text));
    }
  });
  return svg;
}

interface IScale {
  kind: 'number' | 'category';
  low: number;
  span: number;
  at(value: string | number): number;
  ticks: [string, number][];
}

function scale(values: (string | number | null)[], top: number, bottom: number): IScale {
  const present = values.filter((v): v is string | number => v !== null);
  const numbers = present.map(v => (typeof v === 'number' ? v : Number(v)));
  if (present.length && numbers.every(n => Number.isFinite(n)) && present.every(v => v !== '')) {
    const [low, high] = extent(numbers);
    const span = high - low;
    const at = (v: string | number) =>
      bottom - (span ? (Number(v) - low) / span : 0.5) * (bottom - top);
    return {
      kind: 'number',
      low,
      span,
      at,
      ticks: [
        [short(high), at(high)],
        [short(low), at(low)]
      ]
    };
  }
  const categories = [...new Set(present.map(String))].sort();
  const gap = (bottom - top) / Math.max(1, categories.length - 1);
  const at = (v: string | number) =>
    categories.length === 1 ? (top + bottom) / 2 : bottom - categories.indexOf(String(v)) * gap;
  const shown =
    categories.length <= 12 ? categories : [categories[0], categories[categories.length - 1]];
  return { kind: 'category', low: 0, span: 0, at, ticks: shown.map(c => [c.slice(0, 14), at(c)]) };
}

function extent(values: number[]): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  return values.length ? [low, high] : [0, 1];
}

function short(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(3);
}
