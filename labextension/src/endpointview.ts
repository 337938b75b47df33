import { Widget } from '@lumino/widgets';

import { IEndpointDetails, IMonitor, request } from './api';
import { lineChart } from './charts';
import { el, note } from './dom';
import { formatValue, statusClass } from './format';
import { checkList } from './sections/monitors';

const POLL_MS = 2000;
const SCORECARD_EVERY = 15; // polls: the scorecard replays rows through the model
const RATE_POINTS = 90; // the request-rate chart's last three minutes

/**
 * An endpoint in the main area, live while shown: its request rate (from successive reads of
 * its /metrics), latency percentiles and errors, its scorecard, and the last requests it logged;
 * a click on a request opens the lineage of the model version that answered it, back to the
 * data it learned from. Restored on reload.
 */
export class EndpointView extends Widget {
  private readonly head = el('div', { className: 'mlops-endpoint-view-head' });
  private readonly tiles = el('div', { className: 'mlops-tiles' });
  private readonly rate = el('div', { className: 'mlops-endpoint-rate' });
  private readonly card = el('div', { className: 'mlops-endpoint-card' });
  private readonly log = el('div', { className: 'mlops-endpoint-log' });
  private last: IEndpointDetails | null = null;
  private readonly rates: [number, number][] = [];
  private polls = 0;
  private timer: number | undefined;
  private busy = false;

  constructor(
    readonly endpoint: string,
    private readonly openLineage: (ref: string) => void
  ) {
    super();
    this.id = `mlops-endpoint-${endpoint}`;
    this.addClass('mlops-endpoint-view');
    this.title.label = `Endpoint ${endpoint}`;
    this.title.closable = true;
    this.node.append(
      this.head,
      this.tiles,
      this.rate,
      el('h3', { text: 'Scorecard' }),
      this.card,
      el('h3', { text: 'Last requests' }),
      this.log
    );
    this.card.append(note('Loading…'));
  }

  protected onAfterShow(): void {
    void this.poll();
    this.timer = window.setInterval(() => void this.poll(), POLL_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  /** Read the endpoint again (the scorecard now and then) and redraw. */
  async poll(): Promise<void> {
    if (this.busy) {
      return;
    }
    this.busy = true;
    const scorecard = this.polls++ % SCORECARD_EVERY === 0;
    try {
      const now = await request<IEndpointDetails>(
        `endpoints/${encodeURIComponent(this.endpoint)}`,
        {},
        scorecard ? { scorecard: '1' } : {}
      );
      this.draw(now);
    } catch (error) {
      this.head.replaceChildren(note((error as Error).message, 'error'));
    } finally {
      this.busy = false;
    }
  }

  private draw(now: IEndpointDetails): void {
    const before = this.last;
    if (before && now.at > before.at && now.traffic.requests >= before.traffic.requests) {
      this.rates.push([
        now.at,
        (now.traffic.requests - before.traffic.requests) / (now.at - before.at)
      ]);
      this.rates.splice(0, Math.max(0, this.rates.length - RATE_POINTS));
    }
    this.last = now;
    const served = `${now.model}${now.alias ? `@${now.alias}` : ''} v${now.version}`;
    this.head.replaceChildren(
      el('h2', { text: now.endpoint }),
      el('div', {
        className: 'mlops-meta',
        text: [
          served,
          now.url,
          `up ${formatValue(now.uptime_s)} s`,
          now.challenger ? `challenger ${now.challenger}` : ''
        ]
          .filter(Boolean)
          .join(' · ')
      }),
      el('button', {
        className: 'jp-Button mlops-button mlops-small',
        text: 'Lineage',
        title: 'the model it serves, the run that trained it, the data it learned from',
        onClick: () => this.openLineage(now.endpoint)
      })
    );
    const t = now.traffic;
    const rate = this.rates.length ? this.rates[this.rates.length - 1][1] : null;
    const tile = (label: string, value: string, kind = '') =>
      el('div', { className: `mlops-tile ${kind}`, attrs: { 'data-tile': label } }, [
        el('div', { className: 'mlops-tile-value', text: value }),
        el('div', { className: 'mlops-meta', text: label })
      ]);
    const ms = (v: number | null) => (v === null ? '—' : `${formatValue(v)} ms`);
    this.tiles.replaceChildren(
      tile('requests/s', rate === null ? '…' : formatValue(Math.round(rate * 10) / 10)),
      tile('requests', t.requests.toLocaleString('en-US')),
      tile(
        'errors',
        `${t.errors.toLocaleString('en-US')}${t.requests ? ` (${formatValue(Math.round((1000 * t.errors) / t.requests) / 10)}%)` : ''}`,
        t.errors ? 'mlops-tile-bad' : ''
      ),
      tile('p50', ms(t.p50_ms)),
      tile('p95', ms(t.p95_ms)),
      tile('p99', ms(t.p99_ms))
    );
    if (this.rates.length > 1) {
      const start = this.rates[0][0];
      this.rate.replaceChildren(
        lineChart(
          'requests/s',
          [
            {
              label: 'requests/s',
              colour: 'var(--jp-brand-color1)',
              points: this.rates.map(([at, r]) => [Math.round(at - start), r])
            }
          ],
          480,
          140,
          'seconds'
        )
      );
    }
    if (now.scorecard) {
      this.card.replaceChildren(scorecard(now.scorecard));
    }
    this.log.replaceChildren(
      now.requests.length
        ? el('table', { className: 'mlops-table mlops-endpoint-requests' }, [
            el('thead', {}, [
              el(
                'tr',
                {},
                ['time (UTC)', 'status', 'latency', 'version', 'inputs', 'outputs'].map(h =>
                  el('th', { text: h })
                )
              )
            ]),
            el(
              'tbody',
              {},
              now.requests.map(r =>
                el(
                  'tr',
                  {
                    className: `mlops-clickable${r.error ? ' mlops-request-failed' : ''}`,
                    title: `${r.id ?? ''}\nClick: the lineage of ${now.model} v${r.version}, back to its data`,
                    attrs: { 'data-request': r.id ?? '' },
                    onClick: () => this.openLineage(`${now.model}/${r.version}`)
                  },
                  [
                    (r.time ?? '').replace('T', ' ').slice(0, 19), // to the second, as logged (UTC)
                    String(r.status ?? ''),
                    r.latency_ms === null ? '' : `${formatValue(r.latency_ms)} ms`,
                    `v${r.version}${r.variant ? ` (${r.variant})` : ''}`,
                    r.inputs,
                    r.error ?? r.outputs
                  ].map(text => el('td', { text }))
                )
              )
            )
          ])
        : note('No request logged yet.')
    );
  }
}

/** A scorecard: its light, and each check with its evidence. */
function scorecard(card: IMonitor): HTMLElement {
  const status = statusClass(card.status);
  return el('div', {}, [
    el('div', {}, [
      el('span', { className: `mlops-light mlops-light-${status}` }),
      el('b', { text: status.toUpperCase() })
    ]),
    card.message ? note(card.message, 'error') : null,
    checkList(card.checks)
  ]);
}
