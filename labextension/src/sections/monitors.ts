import { ICheck, IMonitor, post, request } from '../api';
import { el, note } from '../dom';
import { statusClass } from '../format';
import { IContext, Section } from './section';

/** A traffic light per endpoint from its scorecard, the checks behind it, the dashboard. */
export class MonitorsSection extends Section {
  constructor(context: IContext) {
    super('monitors', 'Monitors', context);
  }

  protected async load(): Promise<void> {
    const monitors = await request<IMonitor[]>('monitors');
    if (!monitors.length) {
      this.setCount(0);
      this.node.replaceChildren(note('Nothing to monitor: no endpoint is running.'));
      return;
    }
    const failing = monitors.filter(m => m.status === 'fail').length;
    this.setCount(failing ? `${failing} failing` : monitors.length);
    this.node.replaceChildren(...monitors.map(m => this.monitor(m)));
  }

  private monitor(m: IMonitor): HTMLElement {
    const status = statusClass(m.status);
    const name = encodeURIComponent(m.endpoint);
    const dashboard = m.dashboard
      ? el('span', {}, [
          el('a', {
            text: 'dashboard',
            attrs: { href: m.dashboard, target: '_blank', rel: 'noopener' }
          }),
          el('button', {
            className: 'jp-Button mlops-button',
            text: 'Unpublish',
            onClick: () =>
              void this.act(`unpublish ${m.endpoint}`, () => post(`monitors/${name}/unpublish`))
          })
        ])
      : el('button', {
          className: 'jp-Button mlops-button mlops-publish',
          text: 'Publish',
          title: 'serve the dashboard with Voilà',
          onClick: () =>
            void this.act(`publish ${m.endpoint}`, () => post(`monitors/${name}/publish`))
        });
    return el('details', { className: 'mlops-monitor', attrs: { 'data-endpoint': m.endpoint } }, [
      el('summary', {}, [
        el('span', { className: `mlops-light mlops-light-${status}`, title: status }),
        el('b', {
          className: 'mlops-clickable',
          text: m.endpoint,
          title: 'its view: the scorecard, traffic, last requests',
          onClick: event => {
            event.preventDefault(); // not a toggle of the checks
            this.context.openEndpoint(m.endpoint);
          }
        }),
        el('span', {
          className: `mlops-status mlops-status-${status}`,
          text: status.toUpperCase()
        }),
        dashboard
      ]),
      m.message ? note(m.message, 'error') : null,
      checkList(m.checks)
    ]);
  }
}

/** A scorecard's checks: a light, the monitor and its evidence each. */
export function checkList(checks: ICheck[]): HTMLElement {
  return el(
    'ul',
    { className: 'mlops-list' },
    checks.map(c =>
      el('li', { className: `mlops-check mlops-check-${statusClass(c.status)}` }, [
        el('span', { className: `mlops-light mlops-light-${statusClass(c.status)}` }),
        el('span', { className: 'mlops-ref', text: c.monitor }),
        el('span', { className: 'mlops-meta', text: c.evidence })
      ])
    )
  );
}
