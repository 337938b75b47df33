import { SidePanel, refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { AccordionPanel } from '@lumino/widgets';

import { IStatus, request, versionMismatch } from './api';
import { el, note } from './dom';
import { DatasetsSection } from './sections/datasets';
import { EndpointsSection } from './sections/endpoints';
import { ModelsSection } from './sections/models';
import { MonitorsSection } from './sections/monitors';
import { RunsSection } from './sections/runs';
import { IContext, Section } from './sections/section';

export const PANEL_ID = 'mlops-jupyter-sidebar';
const TICK_MS = 10_000;
const MONITOR_EVERY = 6; // ticks: the scorecard replays rows through each endpoint
const SHARES = [1.2, 6, 1.4, 1.4, 1]; // of the height: Datasets, Runs, Models, Endpoints, Monitors

/** The left sidebar: Datasets, Runs, Models, Endpoints, Monitors, refreshing while shown. */
export class MlopsPanel extends SidePanel {
  readonly sections: Section[];
  private readonly status = el('div', { className: 'mlops-statusline', attrs: { role: 'status' } });
  private readonly project = el('div', { className: 'mlops-project' });
  private readonly mismatch = el('div', { className: 'mlops-version-mismatch' });
  private ticks = 0;
  private timer: number | undefined;

  /** `actions`: what the sections may ask of the lab (insert code, open views). */
  constructor(actions: Omit<IContext, 'say' | 'refreshAll'>) {
    super();
    this.id = PANEL_ID;
    this.addClass('mlops-panel');
    this.title.caption = 'mlops-jupyter';
    const context: IContext = {
      ...actions,
      say: (message, kind = 'info') => {
        this.status.textContent = message;
        this.status.className = `mlops-statusline mlops-statusline-${kind}`;
      },
      refreshAll: () => void this.refresh()
    };
    this.sections = [
      new DatasetsSection(context),
      new RunsSection(context),
      new ModelsSection(context),
      new EndpointsSection(context),
      new MonitorsSection(context)
    ];
    this.header.node.append(this.project, this.mismatch);
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh',
        onClick: () => void this.refresh()
      })
    );
    this.toolbar.addItem(
      'lineage',
      new ToolbarButton({
        label: 'Lineage',
        tooltip: 'The lineage graph: data versions → runs → models → endpoints → monitors',
        onClick: () => actions.openLineage('', 'both')
      })
    );
    for (const section of this.sections) {
      this.addWidget(section);
    }
    // Runs are the longest list: half the height, ten rows or more at a laptop's height
    (this.content as AccordionPanel).setRelativeSizes(SHARES);
    this.node.append(this.status);
  }

  /** Everything again, now. */
  async refresh(): Promise<void> {
    try {
      const status = await request<IStatus>('status');
      this.project.textContent = status.project
        ? `Project: ${status.name}`
        : (status.message ?? 'Not in a project');
      const mismatch = versionMismatch(status.version);
      this.mismatch.replaceChildren(...(mismatch ? [note(mismatch, 'error')] : []));
    } catch (error) {
      this.project.textContent = (error as Error).message;
    }
    await Promise.all(this.sections.map(s => s.refresh()));
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.timer = window.setInterval(() => this.tick(), TICK_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this.timer);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  private tick(): void {
    this.ticks += 1;
    for (const section of this.sections) {
      if (section instanceof MonitorsSection && this.ticks % MONITOR_EVERY !== 0) {
        continue;
      }
      void section.tick();
    }
  }
}
