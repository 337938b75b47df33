import { Widget } from '@lumino/widgets';

import { IDiff, request } from './api';
import { el, note } from './dom';
import { cellText, cellsDiffer } from './format';

/**
 * A version's diff in the main area: rows and cells of a table (as Dolt shows them), or files
 * of a folder; one kind at a time or all, rows colored by kind, changed cells highlighted.
 */
export class DiffView extends Widget {
  private diff: IDiff | null = null;
  private shown = 'all';
  private readonly body = el('div', { className: 'mlops-diff-body' });

  constructor(readonly ref: string) {
    super();
    this.id = `mlops-diff-${ref}`;
    this.addClass('mlops-diff');
    this.title.label = `Diff ${ref}`;
    this.title.closable = true;
    this.node.append(this.body);
    void this.load();
  }

  private async load(): Promise<void> {
    this.body.replaceChildren(note(`Comparing ${this.ref} with the version before…`));
    try {
      this.diff = await request<IDiff>(`datasets/${encodeURIComponent(this.ref)}/diff`);
    } catch (error) {
      this.body.replaceChildren(note((error as Error).message, 'error'));
      return;
    }
    this.title.label = `${this.diff.a} → ${this.diff.b}`;
    this.render();
  }

  private render(): void {
    const diff = this.diff!;
    const kinds = Object.entries(diff.counts).filter(([, n]) => n > 0);
    const choose = el(
      'div',
      { className: 'mlops-diff-kinds' },
      [['all', diff.total] as [string, number], ...kinds].map(([kind, n]) =>
        el('button', {
          className: `mlops-diff-kind${kind === this.shown ? ' mlops-diff-kind-on' : ''}`,
          text: `${kind} (${n.toLocaleString('en-US')})`,
          attrs: { 'data-kind': kind },
          onClick: () => {
            this.shown = kind;
            this.render();
          }
        })
      )
    );
    const status = diff.columns.indexOf(diff.status);
    const pairs = diff.pairs.map(([a, b]) => [diff.columns.indexOf(a), diff.columns.indexOf(b)]);
    const rows = diff.rows.filter(row => this.shown === 'all' || row[diff.status] === this.shown);
    const table = el('table', { className: 'mlops-table mlops-diff-table' }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          diff.columns.map(c => el('th', { text: c }))
        )
      ]),
      el(
        'tbody',
        {},
        rows.map(row => {
          const values = diff.columns.map(c => row[c]);
          const kind = String(values[status]);
          const marked = new Set<number>();
          if (kind === 'changed' || kind === 'modified') {
            for (const [a, b] of pairs) {
              if (cellsDiffer(values[a], values[b])) {
                marked.add(a).add(b);
              }
            }
          }
          return el(
            'tr',
            { className: `mlops-diff-${kind}` },
            values.map((v, i) =>
              el('td', {
                className: marked.has(i) ? 'mlops-cell-changed' : undefined,
                text: cellText(v)
              })
            )
          );
        })
      )
    ]);
    const more =
      diff.total > diff.rows.length
        ? note(
            `The first ${diff.rows.length} of ${diff.total.toLocaleString('en-US')} ` +
              `differences; datasets.diff("${diff.a}", "${diff.b}", rows=True) gives them all.`
          )
        : null;
    this.body.replaceChildren(
      el('div', { className: 'mlops-diff-summary', text: diff.summary }),
      choose,
      diff.total ? table : note('No differences.'),
      ...(more ? [more] : [])
    );
  }
}
