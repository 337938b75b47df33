/**
 * The sidebar's only way to the Python side: the server extension's REST API, through Jupyter's
 * authenticated connection (token and XSRF handled by ServerConnection).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const PREFIX = 'mlops-jupyter/api/v1';
/** This panel's version: the server extension's (`GET status`) must be the same. */
export const VERSION = '0.1.0';

export interface IVersion {
  ref: string;
  version: string;
  rows: number | null;
  columns: number | null;
  size: number | null;
  created: string | null;
  message: string | null;
  files: number | null;
  folder: boolean;
  /** What changed from the version before, in a few words ("-7 rows, +2 columns"). */
  change: string;
}

/** A version's diff: rows and cells of a table, or files of a folder (the first rows of it). */
export interface IDiff {
  a: string;
  b: string;
  summary: string;
  /** The column that says added, removed, changed (or a file's added, deleted, ...). */
  status: string;
  counts: Record<string, number>;
  columns: string[];
  /** Before and after columns whose cells differ in a changed row. */
  pairs: [string, string][];
  rows: Record<string, unknown>[];
  total: number;
}

export interface IDataset {
  name: string;
  versions: IVersion[];
}

export interface IRunRow {
  /** The short id the list shows; `id` is the whole one. */
  run: string;
  id: string;
  name: string;
  status: string;
  started: string;
  seconds: number | null;
  data: string;
  [column: string]: unknown;
}

export interface IRunsPage {
  experiments: string[];
  runs: IRunRow[];
  metrics: string[];
  params: string[];
  next_page_token: string | null;
}

/** What the Run and Compare views both read of a run. */
export interface IRunSummary {
  id: string;
  name: string;
  status: string;
  start_time: number;
  end_time: number | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
}

export interface IRunDetails extends IRunSummary {
  tags: Record<string, string>;
  /** Metrics logged at more than one step: [step, value] points (at most 500 each). */
  histories: Record<string, [number, number][]>;
  source: {
    notebook: string | null;
    /** The notebook's path under the server's root, to open it (null when it is not there). */
    path: string | null;
    commit: string | null;
    branch: string | null;
    dirty: boolean;
    python: string | null;
    seed: string | null;
  };
  datasets: { ref: string; context: string }[];
}

export interface ICompared extends IRunSummary {
  data: string;
  /** Why its cells were non-linear, when they were. */
  nonlinear: string | null;
}

/** What `GET compare` answers: runs side by side; with histories=1, metric histories too. */
export interface ICompare {
  runs: ICompared[];
  params: string[];
  metrics: string[];
  /** The parameters whose values differ between the runs. */
  differ: string[];
  /** metric -> run id -> [step, value] points. */
  histories?: Record<string, Record<string, [number, number][]>>;
}

export interface IModelVersion {
  version: number;
  aliases: string[];
  run: string | null;
  run_name: string | null;
  created: string | null;
  data: string | null;
  metrics: Record<string, number>;
}

export interface IModel {
  name: string;
  aliases: Record<string, number>;
  versions: IModelVersion[];
}

export interface IEndpoint {
  endpoint: string;
  model: string;
  version: string;
  url: string;
  uptime_s: number;
  requests: number;
  errors: number;
  p95_ms: number | null;
}

export interface ILoggedRequest {
  time: string | null;
  id: string | null;
  status: number | null;
  latency_ms: number | null;
  version: string | null;
  variant: string | null;
  error: string | null;
  /** As JSON, shortened. */
  inputs: string;
  outputs: string;
}

/** What `GET endpoints/NAME` answers (the scorecard when asked for). */
export interface IEndpointDetails {
  endpoint: string;
  model: string;
  alias: string | null;
  version: string;
  url: string;
  uptime_s: number;
  challenger: string | null;
  /** When it was read (epoch seconds): successive answers give the request rate. */
  at: number;
  traffic: {
    requests: number;
    errors: number;
    p50_ms: number | null;
    p95_ms: number | null;
    p99_ms: number | null;
  };
  requests: ILoggedRequest[];
  scorecard?: IMonitor;
}

export interface ICheck {
  monitor: string;
  status: string;
  evidence: string;
}

export interface IMonitor {
  endpoint: string;
  status: string;
  checks: ICheck[];
  message?: string;
  dashboard: string | null;
}

export interface IStatus {
  project: string | null;
  name?: string;
  message?: string;
  version: string;
}

let folder = '';

/** What to tell the user when the server extension is another version than this panel. */
export function versionMismatch(
  server: string | undefined,
  panel: string = VERSION
): string | null {
  if (!server || server === panel) {
    return null;
  }
  return (
    `The server extension is mlops-jupyter ${server}, this panel ${panel}: ` +
    'install one version (pip install mlops-jupyter==VERSION), then restart JupyterLab and reload.'
  );
}

/** The folder (relative to the server's root) whose project the sidebar shows. */
export function setFolder(path: string): void {
  folder = path;
}

/** GET or POST a route of the API; a failure throws an Error carrying the server's message. */
export async function request<T>(
  route: string,
  init: RequestInit = {},
  query: Record<string, string> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const search = new URLSearchParams(
    Object.entries({ ...query, path: folder }).filter(([, v]) => v !== '')
  ).toString();
  const url = URLExt.join(settings.baseUrl, PREFIX, route) + (search ? `?${search}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new Error(`the Jupyter server cannot be reached: ${error}`, { cause: error });
  }
  const text = await response.text();
  let data: any;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text.slice(0, 200) };
  }
  if (!response.ok) {
    throw new Error(data?.message ?? `${response.status} ${response.statusText}`);
  }
  return data as T;
}

/** POST a JSON body. */
export function post<T>(route: string, body: unknown = {}): Promise<T> {
  return request<T>(route, { method: 'POST', body: JSON.stringify(body) });
}
