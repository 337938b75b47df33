import { Widget } from '@lumino/widgets';

import { note } from '../dom';

/** What every section can ask of the sidebar around it. */
export interface IContext {
  /** Put a line of code into the active notebook (or copy it); says which it did. */
  insert(code: string): string;
  /** Show a short message at the bottom of the sidebar. */
  say(message: string, kind?: 'info' | 'error'): void;
  /** Refresh every section (after an action that changes several). */
  refreshAll(): void;
  /** Open a data version's diff (rows or files) in the main area. */
  openDiff(ref: string): void;
  /** Open a run's view in the main area (restored on reload). */
  openRun(run: string): void;
  /** Open the lineage view on `ref` (a data version, run id, m/2, endpoint; '' for all). */
  openLineage(ref: string, direction: 'both' | 'up' | 'down'): void;
  /** Open an endpoint's live view. */
  openEndpoint(name: string): void;
  /** Open the Compare view on these runs (whole ids). */
  openCompare(runs: string[]): void;
}

/** A titled section of the sidebar that loads its content from the REST API. */
export abstract class Section extends Widget {
  protected readonly context: IContext;
  private readonly label: string;
  private loading: Promise<void> | null = null;

  constructor(id: string, label: string, context: IContext) {
    super();
    this.context = context;
    this.label = label;
    this.id = `mlops-section-${id}`;
    this.addClass('mlops-section');
    this.addClass(`mlops-section-${id}`);
    this.title.label = label;
  }

  /** Fetch and draw again; one load at a time, errors shown in place. */
  refresh(): Promise<void> {
    if (!this.node.childElementCount) {
      this.node.append(note('Loading…')); // the first load: say so rather than look empty
    }
    if (!this.loading) {
      this.loading = this.load()
        .catch((error: Error) => {
          this.node.replaceChildren(note(error.message, 'error'));
        })
        .finally(() => {
          this.loading = null;
        });
    }
    return this.loading;
  }

  /** Show how many things the section holds in its header: "Runs (123)". */
  protected setCount(count: number | string): void {
    this.title.label = `${this.label} (${count})`;
  }

  /** Refresh on the sidebar's timer (a section may decline, say while the user scrolls). */
  tick(): Promise<void> {
    return this.refresh();
  }

  /** Run an action, report its outcome, and refresh. */
  protected async act(what: string, action: () => Promise<unknown>): Promise<void> {
    this.context.say(`${what}…`);
    try {
      await action();
      this.context.say(`${what}: done`);
    } catch (error) {
      this.context.say(`${what}: ${(error as Error).message}`, 'error');
    }
    this.context.refreshAll();
  }

  protected abstract load(): Promise<void>;
}
