import { IEndpoint, post, request } from '../api';
import { el, note } from '../dom';
import { formatValue } from '../format';
import { IContext, Section } from './section';

/** Running endpoints: status, URL, requests, errors, p95 latency; start, reload, stop. */
export class EndpointsSection extends Section {
  constructor(context: IContext) {
    super('endpoints', 'Endpoints', context);
  }

  protected async load(): Promise<void> {
    const endpoints = await request<IEndpoint[]>('endpoints');
    const model = el('input', {
      className: 'mlops-input',
      attrs: { placeholder: 'model: NAME@champion', 'aria-label': 'model to serve' }
    });
    const start = el('button', {
      className: 'jp-Button mlops-button',
      text: 'Start',
      onClick: () =>
        void this.act(`start ${model.value}`, () =>
          post('endpoints', { model: model.value.trim() })
        )
    });
    // a line per endpoint (name, model, actions), then its traffic: fits the default width
    const rows = endpoints.map(e =>
      el('li', { className: 'mlops-endpoint', attrs: { 'data-endpoint': e.endpoint } }, [
        el('div', { className: 'mlops-endpoint-head' }, [
          el('span', { className: 'mlops-light mlops-light-pass', title: 'running' }),
          el('b', {
            className: 'mlops-endpoint-name mlops-clickable',
            text: e.endpoint,
            title: 'its view: traffic, latency, scorecard, last requests',
            onClick: () => this.context.openEndpoint(e.endpoint)
          }),
          el('span', {
            className: 'mlops-meta mlops-endpoint-model',
            text: `${e.model} v${e.version}`
          }),
          el('button', {
            className: 'jp-Button mlops-button mlops-small',
            text: 'Reload',
            title: `serve the version ${e.model}'s alias points at now`,
            onClick: () =>
              void this.act(`reload ${e.endpoint}`, () =>
                post(`endpoints/${encodeURIComponent(e.endpoint)}/reload`)
              )
          }),
          el('button', {
            className: 'jp-Button mlops-button mlops-small mlops-stop',
            text: 'Stop',
            onClick: () =>
              void this.act(`stop ${e.endpoint}`, () =>
                post(`endpoints/${encodeURIComponent(e.endpoint)}/stop`)
              )
          })
        ]),
        el('div', { className: 'mlops-meta mlops-endpoint-traffic' }, [
          el('a', {
            className: 'mlops-url',
            text: e.url,
            title: 'the endpoint (OpenAPI at /openapi.json)',
            attrs: { href: `${e.url}/openapi.json`, target: '_blank', rel: 'noopener' }
          }),
          el('span', {
            text: [
              `${e.requests} req`,
              `${e.errors} err`,
              e.p95_ms === null ? '' : `p95 ${formatValue(e.p95_ms)} ms`
            ]
              .filter(Boolean)
              .join(' · ')
          })
        ])
      ])
    );
    this.setCount(endpoints.length);
    this.node.replaceChildren(
      endpoints.length
        ? el('ul', { className: 'mlops-list mlops-endpoints' }, rows)
        : note('No endpoint running: %serve start NAME@champion'),
      el('div', { className: 'mlops-row-controls' }, [model, start])
    );
  }
}
