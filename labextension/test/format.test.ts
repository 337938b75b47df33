import { describe, expect, it } from 'vitest';

import {
  cellsDiffer,
  cellText,
  formatBytes,
  formatDate,
  formatRows,
  formatValue,
  loadSnippet,
  nextOrder,
  orderField,
  runName,
  sparkline,
  statusIcon,
  statusClass,
  visibleRange
} from '../src/format';

describe('formatting', () => {
  it('shows sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GB');
    expect(formatBytes(null)).toBe('');
  });

  it('counts rows with separators and the right plural', () => {
    expect(formatRows(8759)).toBe('8,759 rows');
    expect(formatRows(1)).toBe('1 row');
    expect(formatRows(undefined)).toBe('');
  });

  it('keeps metric values short', () => {
    expect(formatValue(0.6381434768688017)).toBe('0.6381');
    expect(formatValue(12)).toBe('12');
    expect(formatValue(123456.789)).toBe('1.23e+5');
    expect(formatValue('lbfgs')).toBe('lbfgs');
    expect(formatValue(null)).toBe('');
  });

  it('prints dates to the minute, and leaves what is not a date as it is', () => {
    expect(formatDate('2026-11-25T12:03:00')).toBe('2026-11-25 12:03');
    expect(formatDate('soon')).toBe('soon');
    expect(formatDate(null)).toBe('');
  });
});

describe('the load snippet', () => {
  it('is the magic that loads the version', () => {
    expect(loadSnippet('temps@v2')).toBe('df = %dataset load temps@v2');
    expect(loadSnippet('temps@v2', 'train')).toBe('train = %dataset load temps@v2');
  });
});

describe('scorecard lights', () => {
  it('maps unknown statuses to a warning', () => {
    expect(statusClass('pass')).toBe('pass');
    expect(statusClass('fail')).toBe('fail');
    expect(statusClass('warn')).toBe('warn');
    expect(statusClass(undefined)).toBe('warn');
    expect(statusClass('<img onerror=x>')).toBe('warn');
  });
});

describe('the virtual list', () => {
  it('renders only the rows in view plus the overscan', () => {
    expect(visibleRange(0, 300, 22, 10_000, 10)).toEqual({ start: 0, end: 25 });
    const middle = visibleRange(22 * 5000, 300, 22, 10_000, 10);
    expect(middle).toEqual({ start: 4990, end: 5025 });
    expect(middle.end - middle.start).toBeLessThan(40);
  });

  it('never goes past either end', () => {
    expect(visibleRange(22 * 10_000, 300, 22, 10_000, 10)).toEqual({ start: 9989, end: 10_000 });
    expect(visibleRange(-50, 300, 22, 3, 10)).toEqual({ start: 0, end: 3 });
    expect(visibleRange(0, 300, 22, 0)).toEqual({ start: 0, end: 0 });
  });
});

describe('sorting', () => {
  it('orders by a column, then toggles its direction', () => {
    const field = orderField('metrics.rmse');
    expect(field).toBe('metrics.`rmse`');
    expect(nextOrder('attributes.start_time DESC', field)).toBe('metrics.`rmse` DESC');
    expect(nextOrder('metrics.`rmse` DESC', field)).toBe('metrics.`rmse` ASC');
    expect(nextOrder('metrics.`rmse` ASC', field)).toBe('metrics.`rmse` DESC');
  });

  it('knows the attribute names MLflow sorts by', () => {
    expect(orderField('started')).toBe('attributes.start_time');
    expect(orderField('name')).toBe('attributes.run_name');
    expect(orderField('params.alpha')).toBe('params.`alpha`');
  });
});

describe('diff cells', () => {
  it('shows a small change but not float noise', () => {
    expect(cellText(40.45000000000001)).toBe('40.45');
    expect(cellText(40.4501)).toBe('40.4501');
    expect(cellText(null)).toBe('');
    expect(cellText('<b>x</b>')).toBe('<b>x</b>'); // set as text by the view, never as HTML
  });

  it('marks two cells as changed only when they differ', () => {
    expect(cellsDiffer(1, 1.5)).toBe(true);
    expect(cellsDiffer('a', 'a')).toBe(false);
    expect(cellsDiffer(null, null)).toBe(false);
    expect(cellsDiffer(null, 0)).toBe(true);
  });
});

describe('runs', () => {
  it('marks a run whose cells ran out of order', () => {
    expect(runName({ name: 'deep', cells: 'non-linear' })).toBe('↯ deep');
    expect(runName({ name: 'deep', cells: 'linear' })).toBe('deep');
    expect(runName({ name: 'deep' })).toBe('deep');
  });
});

describe('statusIcon', () => {
  it('shows each run status as one character', () => {
    expect(['FINISHED', 'FAILED', 'KILLED', 'RUNNING', 'SCHEDULED'].map(statusIcon).join('')).toBe(
      '✓✗■▶…'
    );
    expect(statusIcon('SOMETHING NEW')).toBe('?');
  });
});

describe('sparkline', () => {
  it('fits the points in the box, the lowest value at the bottom', () => {
    expect(
      sparkline(
        [
          [0, 1],
          [5, 0.5],
          [10, 0]
        ],
        102,
        12
      )
    ).toBe('1,1 51,6 101,11');
  });

  it('draws a constant or single point series flat in the middle', () => {
    expect(
      sparkline(
        [
          [0, 2],
          [1, 2]
        ],
        10,
        10
      )
    ).toBe('1,5 9,5');
    expect(sparkline([[3, 7]], 10, 10)).toBe('5,5');
    expect(sparkline([], 10, 10)).toBe('');
  });
});
