import { IDataset, request } from '../api';
import { el, note } from '../dom';
import { formatBytes, formatDate, formatRows, loadSnippet } from '../format';
import { IContext, Section } from './section';

/**
 * Datasets and their versions, each with what changed from the one before; a click on a version
 * inserts the code that loads it, its "diff" opens the rows or files that changed.
 */
export class DatasetsSection extends Section {
  constructor(context: IContext) {
    super('datasets', 'Datasets', context);
  }

  protected async load(): Promise<void> {
    const datasets = await request<IDataset[]>('datasets');
    this.setCount(datasets.length);
    if (!datasets.length) {
      this.node.replaceChildren(note('No dataset yet: %dataset add FILE --name NAME'));
      return;
    }
    this.node.replaceChildren(
      ...datasets.map(dataset =>
        el('details', { className: 'mlops-dataset', attrs: { open: '' } }, [
          el('summary', { text: `${dataset.name} (${dataset.versions.length})` }),
          el(
            'ul',
            { className: 'mlops-list' },
            dataset.versions.map(v =>
              el(
                'li',
                {
                  className: 'mlops-version mlops-clickable',
                  title: `Insert: ${loadSnippet(v.ref)}`,
                  attrs: { 'data-ref': v.ref },
                  onClick: () => this.context.say(this.context.insert(loadSnippet(v.ref)))
                },
                [
                  el('span', { className: 'mlops-ref', text: v.version }),
                  el('span', {
                    className: 'mlops-meta',
                    text: [formatRows(v.rows), formatBytes(v.size), formatDate(v.created)]
                      .filter(Boolean)
                      .join(' · ')
                  }),
                  el('span', { className: 'mlops-message', text: v.message ?? '' }),
                  el('span', { className: 'mlops-change', text: v.change }),
                  el('button', {
                    className: 'mlops-lineage-open',
                    text: 'lineage',
                    title: `What ${v.ref} reached: runs, models, endpoints`,
                    onClick: event => {
                      event.stopPropagation(); // not an insert
                      this.context.openLineage(v.ref, 'down');
                    }
                  }),
                  v.change === 'first version'
                    ? null
                    : el('button', {
                        className: 'mlops-diff-open',
                        text: 'diff',
                        title: `The ${v.folder ? 'files' : 'rows'} that changed in ${v.ref}`,
                        onClick: event => {
                          event.stopPropagation(); // not an insert
                          this.context.openDiff(v.ref);
                        }
                      })
                ]
              )
            )
          )
        ])
      )
    );
  }
}
