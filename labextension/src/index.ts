/**
 * The mlops-jupyter sidebar: data versions, runs, models, endpoints and monitors at a glance.
 * Everything it shows and does goes through the server extension's REST API.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { setFolder } from './api';
import { CompareView } from './compareview';
import { DiffView } from './diffview';
import { EndpointView } from './endpointview';
import { Direction, LineageView } from './lineageview';
import { MlopsPanel, PANEL_ID } from './panel';
import { RunView } from './runview';

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M4 5h4v14H4zM10 9h4v10h-4zM16 3h4v16h-4z"/></g></svg>`;

const mlopsIcon = new LabIcon({ name: 'mlops-jupyter:icon', svgstr: ICON });

const CommandIDs = {
  open: 'mlops-jupyter:open',
  refresh: 'mlops-jupyter:refresh',
  openRun: 'mlops-jupyter:open-run',
  openLineage: 'mlops-jupyter:open-lineage',
  openCompare: 'mlops-jupyter:open-compare',
  openEndpoint: 'mlops-jupyter:open-endpoint',
  openDiff: 'mlops-jupyter:open-diff'
} as const;

/** Put `code` in the active notebook: in the active cell if it is empty, else a new cell below. */
function inserter(app: JupyterFrontEnd, tracker: INotebookTracker | null) {
  return (code: string): string => {
    const current = tracker?.currentWidget;
    if (!current) {
      Clipboard.copyToSystem(code);
      return `No notebook open: copied "${code}"`;
    }
    const notebook = current.content;
    if (notebook.activeCell?.model.sharedModel.getSource().trim()) {
      NotebookActions.insertBelow(notebook);
    }
    notebook.activeCell?.model.sharedModel.setSource(code);
    app.shell.activateById(current.id);
    return `Inserted "${code}" into ${current.title.label}`;
  };
}

/** Show `view` in a new main-area tab, tracked so that a reload opens it again. */
function addTab<T extends Widget>(
  app: JupyterFrontEnd,
  tracker: WidgetTracker<MainAreaWidget<T>>,
  view: T
): MainAreaWidget<T> {
  const tab = new MainAreaWidget({ content: view });
  tab.id = `${view.id}-tab`;
  void tracker.add(tab);
  app.shell.add(tab, 'main');
  app.shell.activateById(tab.id);
  return tab;
}

/**
 * A command showing one view per key (its argument `arg`): brought forward when open, else made
 * by `make` in a new tab, tracked (namespace `mlops-KIND`) so that a reload opens it again.
 */
function keyedViews<T extends Widget>(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  command: string,
  options: {
    label: string;
    arg: string;
    keyOf: (view: T) => string;
    make: (key: string) => T;
    same?: (shown: string, key: string) => boolean;
  }
): void {
  const { arg, keyOf, make, same = (a: string, b: string) => a === b } = options;
  const tracker = new WidgetTracker<MainAreaWidget<T>>({
    namespace: command.replace('mlops-jupyter:open-', 'mlops-')
  });
  app.commands.addCommand(command, {
    label: options.label,
    execute: args => {
      const key = String(args[arg]);
      const shown = tracker.find(tab => same(keyOf(tab.content), key));
      if (shown) {
        app.shell.activateById(shown.id);
      } else {
        addTab(app, tracker, make(key));
      }
    }
  });
  void restorer?.restore(tracker, {
    command,
    args: tab => ({ [arg]: keyOf(tab.content) }),
    name: tab => keyOf(tab.content)
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlops-jupyter:sidebar',
  description: 'Data versions, runs, models, endpoints and monitors at a glance.',
  autoStart: true,
  optional: [ICommandPalette, INotebookTracker, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    tracker: INotebookTracker | null,
    restorer: ILayoutRestorer | null,
    browser: IDefaultFileBrowser | null
  ) => {
    const insert = inserter(app, tracker);
    // Run views, endpoint views and diffs: a tab each, restored on reload
    keyedViews<RunView>(app, restorer, CommandIDs.openRun, {
      label: 'mlops: Open a run',
      arg: 'run',
      keyOf: view => view.run,
      make: run =>
        new RunView(run, {
          insert,
          openFile: path => void app.commands.execute('docmanager:open', { path }),
          openLineage: ref => void app.commands.execute(CommandIDs.openLineage, { ref })
        }),
      // the list names a run by an id prefix, the lineage by its whole id: one tab either way
      same: (shown, run) => shown.startsWith(run) || run.startsWith(shown)
    });
    keyedViews<EndpointView>(app, restorer, CommandIDs.openEndpoint, {
      label: 'mlops: Open an endpoint',
      arg: 'endpoint',
      keyOf: view => view.endpoint,
      make: name =>
        new EndpointView(
          name,
          ref => void app.commands.execute(CommandIDs.openLineage, { ref, direction: 'up' })
        )
    });
    keyedViews<DiffView>(app, restorer, CommandIDs.openDiff, {
      label: "mlops: Open a data version's diff",
      arg: 'ref',
      keyOf: view => view.ref,
      make: ref => new DiffView(ref)
    });
    // The lineage: one tab, walked in place; a reload opens it on the node it showed
    const lineage = new WidgetTracker<MainAreaWidget<LineageView>>({ namespace: 'mlops-lineage' });
    app.commands.addCommand(CommandIDs.openLineage, {
      label: 'mlops: Open the lineage graph',
      execute: args => {
        const ref = String(args.ref ?? '');
        const direction = (
          ['up', 'down'].includes(String(args.direction)) ? args.direction : 'both'
        ) as Direction;
        const shown = lineage.currentWidget;
        if (shown && !shown.isDisposed) {
          void shown.content.walk(ref, direction);
          app.shell.activateById(shown.id);
          return;
        }
        let tab: MainAreaWidget<LineageView> | undefined = undefined;
        const view = new LineageView(ref, direction, {
          openRun: run => void app.commands.execute(CommandIDs.openRun, { run }),
          moved: () => void (tab && lineage.has(tab) && lineage.save(tab))
        });
        tab = addTab(app, lineage, view);
      }
    });
    void restorer?.restore(lineage, {
      command: CommandIDs.openLineage,
      args: tab => ({ ref: tab.content.ref, direction: tab.content.direction }),
      name: () => 'lineage'
    });
    // Compare: one tab, replaced by the next compare; a reload opens it on the same runs
    const compares = new WidgetTracker<MainAreaWidget<CompareView>>({ namespace: 'mlops-compare' });
    app.commands.addCommand(CommandIDs.openCompare, {
      label: 'mlops: Compare runs',
      execute: args => {
        const runs = (args.runs as string[] | undefined) ?? [];
        compares.currentWidget?.dispose();
        const view = new CompareView(
          runs,
          run => void app.commands.execute(CommandIDs.openRun, { run })
        );
        addTab(app, compares, view);
      }
    });
    void restorer?.restore(compares, {
      command: CommandIDs.openCompare,
      args: tab => ({ runs: tab.content.runs }),
      name: () => 'compare'
    });
    const execute = (command: string, args: Record<string, string | string[]>) =>
      void app.commands.execute(command, args);
    const panel = new MlopsPanel({
      insert,
      openDiff: ref => execute(CommandIDs.openDiff, { ref }),
      openRun: run => execute(CommandIDs.openRun, { run }),
      openLineage: (ref, direction) => execute(CommandIDs.openLineage, { ref, direction }),
      openCompare: runs => execute(CommandIDs.openCompare, { runs }),
      openEndpoint: endpoint => execute(CommandIDs.openEndpoint, { endpoint })
    });
    // The project shown is the one the file browser is in (the server's root may hold several).
    if (browser) {
      setFolder(browser.model.path);
      browser.model.pathChanged.connect((_, change) => {
        setFolder(change.newValue);
        if (panel.isVisible) {
          void panel.refresh();
        }
      });
    }
    panel.title.icon = mlopsIcon;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.open, {
      label: 'mlops: Show the sidebar',
      execute: () => app.shell.activateById(PANEL_ID)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'mlops: Refresh the sidebar',
      execute: () => panel.refresh()
    });
    for (const command of [CommandIDs.open, CommandIDs.refresh, CommandIDs.openLineage]) {
      palette?.addItem({ command, category: 'mlops-jupyter' });
    }
  }
};

export default plugin;
