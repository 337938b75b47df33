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
        void this.act(`start ${model.value}`, () => post('endpoints', { model: model.value.trim() }))
    });
    const rows = endpoints.map(e =>
      el('tr', { attrs: { 'data-endpoint': e.endpoint } }, [
        el('td', {}, [
          el('span', { className: 'mlops-light mlops-light-pass', title: 'running' }),
          el('b', { text: e.endpoint }),
          el('a', {
            className: 'mlops-url',
            text: e.url,
            title: 'the endpoint (OpenAPI at /openapi.json)',
            attrs: { href: `${e.url}/openapi.json`, target: '_blank', rel: 'noopener' }
          }),
          el('button', {
            className: 'jp-Button mlops-button',
            text: 'Reload',
            onClick: () => void this.act(`reload ${e.endpoint}`, () => post(`endpoints/${encodeURIComponent(e.endpoint)}/reload`))
          }),
          el('button', {
            className: 'jp-Button mlops-button mlops-stop',
            text: 'Stop',
            onClick: () => void this.act(`stop ${e.endpoint}`, () => post(`endpoints/${encodeURIComponent(e.endpoint)}/stop`))
          })
        ]),
        el('td', { text: `${e.model} v${e.version}` }),
        el('td', { text: String(e.requests) }),
        el('td', { text: String(e.errors) }),
        el('td', { text: e.p95_ms === null ? '' : `${formatValue(e.p95_ms)} ms` })
      ])
    );
    const head = ['endpoint', 'model', 'requests', 'errors', 'p95'].map(h => el('th', { text: h }));
    this.node.replaceChildren(
      endpoints.length
        ? el('table', { className: 'mlops-table' }, [el('thead', {}, [el('tr', {}, head)]), el('tbody', {}, rows)])
        : note('No endpoint running: %serve start NAME@champion'),
      el('div', { className: 'mlops-row-controls' }, [model, start])
    );
  }
}
