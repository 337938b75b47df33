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
  openEndpoint: 'mlops-jupyter:open-endpoint'
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

/** Show `view` in a main-area tab; a view already open (the same id) is brought forward. */
function opener(app: JupyterFrontEnd) {
  const open = new Map<string, MainAreaWidget>();
  return (view: Widget): void => {
    let tab = open.get(view.id);
    if (!tab || tab.isDisposed) {
      tab = new MainAreaWidget({ content: view });
      tab.id = `${view.id}-tab`;
      open.set(view.id, tab);
      app.shell.add(tab, 'main');
    } else {
      view.dispose();
    }
    app.shell.activateById(tab.id);
  };
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
    // Run views: one tab per run, tracked so that a reload opens them again
    const runs = new WidgetTracker<MainAreaWidget<RunView>>({ namespace: 'mlops-run' });
    app.commands.addCommand(CommandIDs.openRun, {
      label: 'mlops: Open a run',
      execute: args => {
        const run = String(args.run);
        // the list names a run by an id prefix, the lineage by its whole id: one tab either way
        const same = (a: string) => a.startsWith(run) || run.startsWith(a);
        const shown = runs.find(tab => same(tab.content.run));
        if (shown) {
          app.shell.activateById(shown.id);
          return;
        }
        const view = new RunView(run, {
          insert,
          openFile: path => void app.commands.execute('docmanager:open', { path }),
          openLineage: ref => void app.commands.execute(CommandIDs.openLineage, { ref })
        });
        addTab(app, runs, view);
      }
    });
    void restorer?.restore(runs, {
      command: CommandIDs.openRun,
      args: tab => ({ run: tab.content.run }),
      name: tab => tab.content.run
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
    // Endpoints: a live tab each, restored on reload
    const endpoints = new WidgetTracker<MainAreaWidget<EndpointView>>({
      namespace: 'mlops-endpoint'
    });
    app.commands.addCommand(CommandIDs.openEndpoint, {
      label: 'mlops: Open an endpoint',
      execute: args => {
        const name = String(args.endpoint);
        const shown = endpoints.find(tab => tab.content.endpoint === name);
        if (shown) {
          app.shell.activateById(shown.id);
          return;
        }
        const view = new EndpointView(
          name,
          ref => void app.commands.execute(CommandIDs.openLineage, { ref, direction: 'up' })
        );
        addTab(app, endpoints, view);
      }
    });
    void restorer?.restore(endpoints, {
      command: CommandIDs.openEndpoint,
      args: tab => ({ endpoint: tab.content.endpoint }),
      name: tab => tab.content.endpoint
    });
    const panel = new MlopsPanel(
      insert,
      opener(app),
      run => void app.commands.execute(CommandIDs.openRun, { run }),
      (ref, direction) => void app.commands.execute(CommandIDs.openLineage, { ref, direction }),
      runs => void app.commands.execute(CommandIDs.openCompare, { runs }),
      endpoint => void app.commands.execute(CommandIDs.openEndpoint, { endpoint })
    );
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
