import { IModel, post, request } from '../api';
import { el, note } from '../dom';
import { formatDate, formatValue } from '../format';
import { IContext, Section } from './section';

/** Registered models: versions with their aliases, run, metrics and data; promote an alias. */
export class ModelsSection extends Section {
  constructor(context: IContext) {
    super('models', 'Models', context);
  }

  protected async load(): Promise<void> {
    const models = await request<IModel[]>('models');
    if (!models.length) {
      this.setCount(0);
      this.node.replaceChildren(note('No registered model yet: %track register RUN NAME'));
      return;
    }
    this.setCount(models.length);
    this.node.replaceChildren(...models.map(model => this.model(model)));
  }

  private model(model: IModel): HTMLElement {
    const versions = el(
      'ul',
      { className: 'mlops-list' },
      model.versions.map(v => {
        const metrics = Object.entries(v.metrics).map(([k, value]) => `${k} ${formatValue(value)}`);
        // one line at the sidebar's default width: the first metric; the rest on hover
        const about = [v.run_name ?? v.run, v.data, metrics.join(', '), formatDate(v.created)];
        return el(
          'li',
          {
            className: 'mlops-model-version mlops-clickable',
            title: `${about.filter(Boolean).join(' · ')}\nClick: its lineage`,
            attrs: { 'data-version': String(v.version) },
            onClick: () => this.context.openLineage(`${model.name}/${v.version}`, 'both')
          },
          [
            el('span', { className: 'mlops-ref', text: `v${v.version}` }),
            ...v.aliases.map(a => el('span', { className: 'mlops-alias', text: `@${a}` })),
            el('span', { className: 'mlops-meta mlops-model-metric', text: metrics[0] ?? '' }),
            el('span', { className: 'mlops-meta mlops-wide', text: v.data ?? '' })
          ]
        );
      })
    );
    const version = el(
      'select',
      { className: 'mlops-input', attrs: { 'aria-label': `version of ${model.name}` } },
      model.versions.map(v =>
        el('option', { text: `v${v.version}`, attrs: { value: String(v.version) } })
      )
    );
    const alias = el('input', {
      className: 'mlops-input mlops-alias-input',
      attrs: { value: 'champion', 'aria-label': `alias of ${model.name}` }
    });
    const promote = el('button', {
      className: 'jp-Button mlops-button mlops-promote',
      text: 'Promote',
      title: 'point the alias at the chosen version',
      onClick: () =>
        void this.act(`promote ${model.name} v${version.value} to @${alias.value}`, () =>
          post(`models/${encodeURIComponent(model.name)}/aliases`, {
            alias: alias.value.trim(),
            version: Number(version.value)
          })
        )
    });
    return el('div', { className: 'mlops-model', attrs: { 'data-model': model.name } }, [
      el('h3', { text: model.name }),
      versions,
      el('div', { className: 'mlops-row-controls' }, [
        version,
        el('span', { text: '→ @' }),
        alias,
        promote
      ])
    ]);
  }
}
