// Reads a PM2 ecosystem file's export ({ apps: [...] }) as appd settings: each app becomes a pool of the
// same name (exec_mode cluster: an HTTP script pool on the app's port; fork: a command pool), and every
// key appd cannot honour is reported once, naming it and what to do instead. Run by the appd master
// when its config file (or the APP it was given) is an ecosystem file, at start and on every reload.

import { existsSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { splitShellWords } from './shell-words.js';

export interface EcosystemContext {
  /** The ecosystem file, absolute: relative cwd and script paths are taken from its directory. */
  readonly file: string;
  /** How the file is named in messages (as the user gave it). */
  readonly shownAs: string;
  /** --env-name: each app's env_NAME is laid over its env, as PM2's --env NAME does; null for none. */
  readonly envName: string | null;
  /** The Node that runs fork-mode Node scripts: the one running appd. */
  readonly nodePath: string;
  /** What instances "max" (or 0) comes to; -N is this minus N. */
  readonly cpuCount: number;
}

export interface EcosystemTranslation {
  /** appd settings as a config file would give them: pools, and whatever the file's top-level appd key adds. */
  readonly settings: Record<string, unknown>;
  /** One line per key appd does not honour (with the apps using it), and per ignored value. */
  readonly warnings: readonly string[];
}

type Mode = 'cluster' | 'fork';

/** One app being translated: what the handlers read and the pool they fill. */
interface AppDraft {
  readonly label: string;
  readonly name: string;
  readonly mode: Mode;
  /** The pool's settings (appd keys), filled by the key handlers. */
  readonly pool: Record<string, unknown>;
  /** Keys appd does not honour for this app, with what to do instead. */
  readonly unsupported: Map<string, string>;
  /** Set by the watch key: the daemon runs with --reload. */
  watch: boolean;
}

/** What a key handler is given: the raw value and the app so far. */
type KeyHandler = (value: unknown, draft: AppDraft) => void;

const LOGS =
  "each line an app prints goes to appd's log (--error-logfile; stderr by default), tagged with its pool and slot: read one app's lines with appctl logs NAME";
const BACKOFF =
  'appd restarts a crashed worker at once, and backs off exponentially (0.25 s doubling to 30 s) from its second failed start in a row';

/** PM2 keys appd has no equivalent for, with what to do instead. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  out_file: LOGS,
  error_file: LOGS,
  log_file: LOGS,
  output: LOGS,
  error: LOGS,
  log: LOGS,
  combine_logs: LOGS,
  merge_logs: LOGS,
  log_type: LOGS,
  disable_logs: LOGS,
  log_date_format: 'appd timestamps every log line itself',
  time: 'appd timestamps every log line itself',
  pid_file: "appd writes the master's pid to --pidfile; appctl status --json lists every worker's pid",
  instance_var: 'each worker has APPD_SLOT (0, 1, ...) in its environment',
  increment_var: 'give each pool its own port with appd: { bind }, or read APPD_SLOT',
  namespace: 'appctl takes pool names (appctl restart NAME); one appd runs one set of pools',
  cron_restart: 'run appctl restart NAME from a systemd timer or a cron job',
  restart_delay: BACKOFF,
  exp_backoff_restart_delay: BACKOFF,
  source_map_support: 'add --enable-source-maps to node_args',
  treekill: "appd stops a worker's whole process group",
  vizion: 'appd does not track versions: deploy, then appctl reload',
  post_update: 'appd does not track versions: deploy, then appctl reload',
  force: 'appd starts each app once, as one pool',
  ignore_watch: "appd --reload watches the apps' directories (not node_modules) and the config file; paths cannot be chosen",
  watch_options: "appd --reload watches the apps' directories (not node_modules) and the config file; paths cannot be chosen",
  watch_delay: "appd --reload watches the apps' directories (not node_modules) and the config file; paths cannot be chosen",
  filter_env: "workers get appd's environment plus env: unset variables before starting appd",
  append_env_to_name: 'pool names stay as written',
  autostart: 'every pool starts; stop one with appctl stop-pool NAME',
  shutdown_with_message: 'HTTP workers are asked to drain over IPC; command pools get their kill_signal',
  automation: 'appd has no PM2.io monitoring; see appctl top and --metrics-bind',
  pmx: 'appd has no PM2.io monitoring; see appctl top and --metrics-bind',
  trace: 'appd has no PM2.io monitoring; see appctl top and --metrics-bind',
  disable_trace: 'appd has no PM2.io monitoring; see appctl top and --metrics-bind',
  deep_monitoring: 'appd has no PM2.io monitoring; see appctl top and --metrics-bind',
};

function text(value: unknown, what: string, draft: AppDraft): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  throw new ConfigError(`${draft.label}: ${what} must be a string, got ${JSON.stringify(value)}`);
}

/** node_args, args: a list, or one string split as a shell would. */
function words(value: unknown, what: string, draft: AppDraft): string[] {
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' || typeof item === 'number')) return value.map(String);
  if (typeof value === 'string') return splitShellWords(value);
  throw new ConfigError(`${draft.label}: ${what} must be a string or a list of strings, got ${JSON.stringify(value)}`);
}

/** PM2 durations are milliseconds as numbers, or strings with a unit ("2s", "1h"). */
function duration(value: unknown, what: string, draft: AppDraft): string {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return `${value}ms`;
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$/.test(value))
    return /[a-z]/.test(value) ? value.trim() : `${value.trim()}ms`;
  throw new ConfigError(`${draft.label}: ${what} must be milliseconds or a duration such as "2s", got ${JSON.stringify(value)}`);
}

/** Keys read while the app's program and mode are worked out (translateApp), not by a handler. */
const PROGRAM_KEYS = new Set([
  'name',
  'script',
  'args',
  'cwd',
  'port',
  'instances',
  'exec_mode',
  'interpreter',
  'exec_interpreter',
  'node_args',
  'interpreter_args',
  'env',
  'appd',
]);

/** PM2 keys appd translates, each into pool settings of the app's pool. */
const HANDLERS: Readonly<Record<string, KeyHandler>> = {
  max_memory_restart: (value, draft) => (draft.pool['maxMemory'] = value),
  wait_ready: (value, draft) => {
    if (draft.mode === 'cluster') draft.pool['waitReady'] = value === true;
    else if (value === true)
      draft.unsupported.set(
        'wait_ready',
        "a command pool counts as started once up min_uptime; use exec_mode cluster for process.send('ready')",
      );
  },
  listen_timeout: (value, draft) => {
    if (draft.mode === 'cluster') draft.pool['bootTimeout'] = duration(value, 'listen_timeout', draft);
    else draft.unsupported.set('listen_timeout', 'a command pool counts as started once up min_uptime');
  },
  kill_timeout: (value, draft) => (draft.pool['gracefulTimeout'] = duration(value, 'kill_timeout', draft)),
  kill_signal: (value, draft) => {
    if (draft.mode === 'fork') draft.pool['stopSignal'] = text(value, 'kill_signal', draft);
    else
      draft.unsupported.set(
        'kill_signal',
        'HTTP workers are asked to drain over IPC, not signalled; their own SIGTERM handlers do not run on a reload or stop',
      );
  },
  min_uptime: (value, draft) => (draft.pool['startSeconds'] = duration(value, 'min_uptime', draft)),
  max_restarts: (value, draft) => (draft.pool['startRetries'] = value),
  autorestart: (value, draft) => {
    if (value !== false) return;
    if (draft.mode === 'fork') draft.pool['restart'] = 'never';
    else
      draft.unsupported.set(
        'autorestart',
        'HTTP workers are always replaced; run the app with exec_mode fork to leave it down once it exits',
      );
  },
  stop_exit_codes: (value, draft) => {
    const codes = (Array.isArray(value) ? value : [value]).map(Number);
    if (draft.mode === 'fork' && codes.includes(0)) draft.pool['restart'] ??= 'on-failure';
    if (draft.mode === 'cluster' || codes.some((code) => code !== 0)) {
      draft.unsupported.set(
        'stop_exit_codes',
        "appd leaves down only a command pool's process that exited with code 0 (restart: on-failure); HTTP workers are always replaced",
      );
    }
  },
  watch: (value, draft) => {
    if (value === false || value === undefined || value === null) return;
    draft.watch = true;
    if (value !== true)
      draft.unsupported.set(
        'watch',
        "appd --reload watches the apps' directories (not node_modules) and the config file; the paths given are not used",
      );
  },
  uid: (value, draft) => (draft.pool['user'] = text(value, 'uid', draft)),
  gid: (value, draft) => (draft.pool['group'] = text(value, 'gid', draft)),
};

function appName(app: Readonly<Record<string, unknown>>, index: number, shownAs: string): string {
  const label = `config file ${shownAs}: apps[${index}]`;
  if (typeof app['name'] === 'string') {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(app['name'])) {
      throw new ConfigError(
        `${label}: name ${JSON.stringify(app['name'])} cannot name an appd pool (1-64 letters, digits, ".", "-" or "_", starting with a letter or digit)`,
      );
    }
    return app['name'];
  }
  // PM2 names an app after its script file.
  const script = typeof app['script'] === 'string' ? app['script'] : '';
  const base =
    script
      .split('/')
      .pop()
      ?.replace(/\.[cm]?[jt]s$/, '') ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(base))
    throw new ConfigError(`${label}: give it a name (appctl and appd's logs call each app by it)`);
  return base;
}

function instancesOf(value: unknown, draft: Pick<AppDraft, 'label'>, cpuCount: number): number | 'auto' {
  if (value === undefined || value === null) return 1;
  if (value === 'max' || value === 0 || value === '0') return 'auto';
  const count = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof count === 'number' && Number.isInteger(count)) return count > 0 ? count : Math.max(1, cpuCount + count);
  throw new ConfigError(`${draft.label}: instances must be a number, "max" or -N, got ${JSON.stringify(value)}`);
}

function modeOf(app: Readonly<Record<string, unknown>>, label: string): Mode {
  const given = app['exec_mode'];
  if (given === undefined || given === null) {
    // PM2 runs an app given instances in cluster mode unless told otherwise.
    return app['instances'] !== undefined && app['instances'] !== null ? 'cluster' : 'fork';
  }
  if (given === 'cluster' || given === 'cluster_mode') return 'cluster';
  if (given === 'fork' || given === 'fork_mode') return 'fork';
  throw new ConfigError(`${label}: exec_mode must be "cluster" or "fork", got ${JSON.stringify(given)}`);
}

/** The interpreter PM2 would pick: the one given, else by the script's extension; null runs the script itself. */
function interpreterOf(app: Readonly<Record<string, unknown>>, script: string, draft: AppDraft, nodePath: string): string | null {
  const given = app['interpreter'] ?? app['exec_interpreter'];
  if (given !== undefined && given !== null) {
    const name = text(given, 'interpreter', draft);
    if (name === 'none') return null;
    return name === 'node' ? nodePath : name;
  }
  const byExtension: Readonly<Record<string, string>> = { '.py': 'python3', '.sh': 'bash', '.rb': 'ruby', '.php': 'php', '.pl': 'perl' };
  const other = byExtension[extname(script)];
  if (other !== undefined) return other;
  // A script that is not a file here is a program on PATH (script: 'npm', args: 'start').
  return isAbsolute(script) && existsSync(script) && statSync(script).isFile() ? nodePath : null;
}

/** The env PM2 would give the app: env, with env_NAME laid over it when --env-name NAME is given. */
function environmentOf(app: Readonly<Record<string, unknown>>, envName: string | null, draft: AppDraft): Record<string, unknown> {
  const layer = (key: string): Record<string, unknown> => {
    const value = app[key];
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${draft.label}: ${key} must be an object of variables`);
    return value as Record<string, unknown>;
  };
  return { ...layer('env'), ...(envName === null ? {} : layer(`env_${envName}`)) };
}

function translateApp(app: Readonly<Record<string, unknown>>, index: number, context: EcosystemContext): AppDraft {
  const name = appName(app, index, context.shownAs);
  const label = `config file ${context.shownAs}: apps[${index}] (${name})`;
  const mode = modeOf(app, label);
  const draft: AppDraft = { label, name, mode, pool: {}, unsupported: new Map(), watch: false };
  if (typeof app['script'] !== 'string' || app['script'] === '') throw new ConfigError(`${label}: script is missing`);
  const fileDirectory = dirname(context.file);
  // PM2 runs an app where pm2 was started, which is where the file is when it is started as PM2's docs
  // show (pm2 start ecosystem.config.js); appd takes the file's directory, wherever appd is started.
  const cwd = resolve(fileDirectory, app['cwd'] === undefined || app['cwd'] === null ? '.' : text(app['cwd'], 'cwd', draft));
  const scriptPath = resolve(cwd, app['script']);
  const args = app['args'] === undefined || app['args'] === null ? [] : words(app['args'], 'args', draft);
  const nodeArguments = [
    ...(app['node_args'] === undefined ? [] : words(app['node_args'], 'node_args', draft)),
    ...(app['interpreter_args'] === undefined ? [] : words(app['interpreter_args'], 'interpreter_args', draft)),
  ];
  const environment = environmentOf(app, context.envName, draft);
  // PM2's port key is PORT in the app's environment.
  if (app['port'] !== undefined && app['port'] !== null) environment['PORT'] = text(app['port'], 'port', draft);
  const interpreter = interpreterOf(app, scriptPath, draft, context.nodePath);
  draft.pool['chdir'] = cwd;
  draft.pool['workers'] = instancesOf(app['instances'], draft, context.cpuCount);
  if (Object.keys(environment).length > 0) draft.pool['env'] = environment;
  if (mode === 'cluster') {
    if (interpreter !== context.nodePath) {
      throw new ConfigError(
        `${label}: exec_mode cluster runs a Node script in every worker, not ${interpreter ?? 'a program'}: use exec_mode fork`,
      );
    }
    draft.pool['script'] = scriptPath;
    if (args.length > 0) draft.pool['args'] = args;
    if (nodeArguments.length > 0) draft.pool['nodeArgs'] = nodeArguments;
    const port = environment['PORT'];
    if (port !== undefined) draft.pool['bind'] = [`:${String(port)}`];
  } else {
    const program =
      interpreter === null ? [existsSync(scriptPath) ? scriptPath : app['script']] : [interpreter, ...nodeArguments, scriptPath];
    draft.pool['command'] = [...program, ...args];
  }
  for (const [key, value] of Object.entries(app)) {
    if (PROGRAM_KEYS.has(key) || key.startsWith('env_')) continue;
    const handler = HANDLERS[key];
    if (handler) handler(value, draft);
    else draft.unsupported.set(key, UNSUPPORTED[key] ?? 'it is not a PM2 key appd knows');
  }
  // appd's own settings for the pool, over the translation: appd: { bind: '127.0.0.1:3000', ... }.
  const own = app['appd'];
  if (own !== undefined) {
    if (typeof own !== 'object' || own === null || Array.isArray(own))
      throw new ConfigError(`${label}: appd must be an object of appd pool settings`);
    Object.assign(draft.pool, own);
  }
  if (mode === 'cluster' && draft.pool['bind'] === undefined) {
    throw new ConfigError(
      `${label}: exec_mode cluster serves on a port appd listens on: set env.PORT (${context.envName === null ? 'env' : `env or env_${context.envName}`}), which the app listens on, or appd: { bind: '127.0.0.1:3000' }`,
    );
  }
  return draft;
}

export function translateEcosystem(exported: Readonly<Record<string, unknown>>, context: EcosystemContext): EcosystemTranslation {
  const apps = exported['apps'];
  const list = Array.isArray(apps) ? apps : typeof apps === 'object' && apps !== null ? [apps] : null;
  if (list === null || list.length === 0) throw new ConfigError(`config file ${context.shownAs}: apps must be a list of apps`);
  const drafts = list.map((app: unknown, index) => {
    if (typeof app !== 'object' || app === null || Array.isArray(app))
      throw new ConfigError(`config file ${context.shownAs}: apps[${index}] must be an object`);
    return translateApp(app as Record<string, unknown>, index, context);
  });
  const pools: Record<string, Record<string, unknown>> = {};
  for (const draft of drafts) {
    if (pools[draft.name] !== undefined)
      throw new ConfigError(`${draft.label}: another app is named ${draft.name} too; appd runs each as a pool of its own name`);
    pools[draft.name] = draft.pool;
  }
  // Each key once, with every app that uses it.
  const byKey = new Map<string, { advice: string; apps: string[] }>();
  for (const draft of drafts) {
    for (const [key, advice] of draft.unsupported) {
      const entry = byKey.get(`${key}\n${advice}`) ?? { advice, apps: [] };
      entry.apps.push(draft.name);
      byKey.set(`${key}\n${advice}`, entry);
    }
  }
  const warnings = [...byKey].map(
    ([keyAndAdvice, { advice, apps: names }]) => `PM2 key ${keyAndAdvice.split('\n')[0]} (${names.join(', ')}) is ignored: ${advice}`,
  );
  const settings: Record<string, unknown> = { pools };
  const watching = drafts.filter((draft) => draft.watch);
  if (watching.length > 0) {
    settings['reload'] = true;
    if (watching.length < drafts.length)
      warnings.push(`PM2 key watch (${watching.map((draft) => draft.name).join(', ')}): appd --reload reloads every pool, not only these`);
  }
  if (
    context.envName !== null &&
    !list.some((app) => typeof app === 'object' && app !== null && Object.hasOwn(app, `env_${context.envName}`))
  ) {
    warnings.push(`--env-name ${context.envName}: no app has env_${context.envName}; each runs with its env`);
  }
  for (const key of Object.keys(exported)) {
    if (key === 'apps') continue;
    if (key === 'appd') {
      const own = exported['appd'];
      if (typeof own !== 'object' || own === null || Array.isArray(own))
        throw new ConfigError(`config file ${context.shownAs}: appd must be an object of appd settings`);
      Object.assign(settings, own);
    } else {
      warnings.push(
        `PM2 key ${key} is ignored: ${key === 'deploy' ? 'appd does not deploy: deploy, then run appctl reload' : 'it is not a PM2 key appd knows'}`,
      );
    }
  }
  return { settings, warnings };
}
