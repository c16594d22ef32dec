// Loads the app module named by the `app` setting and finds what it exports: a request handler (Node
// listener or { fetch }), or a function that wants the http.Server itself, plus its optional onDrain hook.
// Runs in each HTTP worker process. Import failures are "load" errors (exit 4), factory failures "init" (exit 3).
//
// How the server form is told from a request listener (both are functions): by the reference, never
// by guessing from the function. "PATH:NAME(server)" calls NAME with the http.Server; any other form
// is a handler. Guessing by arity fails: Express apps take 3 parameters, (...args) takes 0.

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeAppError } from './app-error.js';
import { requireFile } from './builtin-modules.js';
import { fetchHandlerToListener, type FetchHandler } from './fetch-adapter.js';
import type { HttpServer } from './instrument-server.js';
import type { DrainHook } from './worker.js';

export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** What the app module gives appd: a handler for requests, or a function that takes the server. */
export type LoadedApp =
  | { readonly form: 'handler'; readonly listener: RequestListener; readonly drainHooks: DrainHooks }
  | { readonly form: 'server'; readonly attach: (server: HttpServer) => unknown; readonly label: string; readonly drainHooks: DrainHooks };

/** A boot failure with the phase it happened in, so the master picks the right exit code. */
export class AppBootFailure extends Error {
  readonly phase: 'load' | 'init' | 'setting';
  constructor(phase: 'load' | 'init' | 'setting', message: string) {
    super(message);
    this.phase = phase;
  }
}

export interface AppReference {
  readonly path: string;
  readonly exportName: string | null;
  /** "NAME()": call the export and serve what it returns. */
  readonly callFactory: boolean;
  /** "NAME(server)": call the export with the http.Server appd created. */
  readonly passServer: boolean;
}

/** "./app.mjs" | "./app.mjs:handler" | "./app.js:createApp()" | "./ws.mjs:attach(server)" */
export function parseAppReference(text: string): AppReference {
  const match = /^(.*?)(?::([A-Za-z_$][\w$]*)(\((server)?\))?)?$/.exec(text);
  const path = match?.[1] ?? text;
  if (!path) throw new AppBootFailure('load', `app ${JSON.stringify(text)} names no module`);
  const call = match?.[3];
  return { path, exportName: match?.[2] ?? null, callFactory: call === '()', passServer: call === '(server)' };
}

/**
 * Node reports an ES module's SyntaxError without its file and line (only an uncaught one gets the
 * source arrow). `node --check` on the app file finds it when the mistake is in that file.
 */
function syntaxErrorLocation(error: unknown, file: string): string | null {
  if (!(error instanceof SyntaxError) || /^\/.*:\d+$/m.test(error.stack ?? '')) return null;
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  if (check.status === 0) return `${error.name}: ${error.message} (in a module that ${file} imports)`;
  return check.stderr
    .split('\n')
    .filter((line) => !/^\s+at checkSyntax|^Node\.js v/.test(line))
    .join('\n')
    .trim();
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function with ${value.length} parameter(s)`;
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}`;
  return typeof value;
}

/** Request listener, { fetch } handler, or a Koa-style app with callback(); null for anything else. */
export function asListener(value: unknown): RequestListener | null {
  if (typeof value === 'function') return value as RequestListener;
  if (typeof value === 'object' && value !== null) {
    if ('fetch' in value && typeof value.fetch === 'function') return fetchHandlerToListener(value as FetchHandler);
    if ('callback' in value && typeof value.callback === 'function') {
      const callback = (value.callback as () => unknown).call(value);
      if (typeof callback === 'function') return callback as RequestListener;
    }
  }
  return null;
}

/** Collects onDrain hooks, each function once (CommonJS shows the same one as named and default export). */
export class DrainHooks {
  readonly #hooks = new Map<unknown, DrainHook>();

  /** Adds owner.onDrain if it is a function, called with owner as `this`. */
  addFrom(owner: unknown): void {
    if ((typeof owner !== 'object' && typeof owner !== 'function') || owner === null || !('onDrain' in owner)) return;
    const hook = owner.onDrain;
    if (typeof hook === 'function' && !this.#hooks.has(hook)) this.#hooks.set(hook, (notice) => hook.call(owner, notice) as unknown);
  }

  list(): DrainHook[] {
    return [...this.#hooks.values()];
  }
}

function toListener(value: unknown, label: string): RequestListener {
  const listener = asListener(value);
  if (listener) return listener;
  throw new AppBootFailure(
    'load',
    `${label} is ${describeValue(value)}, not a request listener (req, res) or an object with fetch(request); to receive the http.Server instead, name it as PATH:NAME(server)`,
  );
}

/** What require() answers for a file that is an ES module: its namespace, as import() would give it. */
function isModuleNamespace(value: unknown): value is Record<string, unknown> {
  return Object.prototype.toString.call(value) === '[object Module]';
}

/**
 * The worker runtime runs from V8's code cache in a vm.Script (worker/bin.ts), whose own import() has no
 * ES loader: bin.ts hands in Node's as appdImport. The compiled ES modules the tests import have none.
 */
declare const appdImport: ((specifier: string) => Promise<unknown>) | undefined;

function importFile(absolute: string): Promise<unknown> {
  const url = pathToFileURL(absolute).href;
  return typeof appdImport === 'function' ? appdImport(url) : import(url);
}

/** require() cannot take an ES module with top-level await (any Node), or any ES module (Node < 20.19). */
const NEEDS_IMPORT = ['ERR_REQUIRE_ASYNC_MODULE', 'ERR_REQUIRE_ESM'];

/**
 * The app module's namespace. A .js or .cjs file is required, not imported: import() starts Node's ES
 * module loader (its resolver, translators and the CommonJS export lexer, ~8 ms of a worker's start-up on
 * Node 20) for a file the CommonJS loader reads anyway. Its namespace is built the way import() builds
 * one: module.exports as the default (loadApp finds named exports on it). A .js file that turns out
 * to be an ES module comes back as its namespace (Node >= 20.19 requires those too); one require() cannot
 * load (top-level await, or an older Node) is imported after all. Anything else (.mjs, a loader's .ts)
 * is imported, as before.
 */
async function importApp(absolute: string): Promise<Record<string, unknown>> {
  const extension = extname(absolute);
  if (extension === '.js' || extension === '.cjs') {
    let exported: unknown;
    try {
      exported = requireFile(absolute);
    } catch (error) {
      if (!hasErrorCode(error, ...NEEDS_IMPORT)) throw error;
      return (await importFile(absolute)) as Record<string, unknown>;
    }
    // Named exports are read from the default export (loadApp looks there too), so onDrain runs on it.
    return isModuleNamespace(exported) ? exported : { default: exported };
  }
  return (await importFile(absolute)) as Record<string, unknown>;
}

export async function loadApp(text: string, directory: string): Promise<LoadedApp> {
  const reference = parseAppReference(text);
  const absolute = resolve(directory, reference.path);
  try {
    accessSync(absolute, constants.R_OK);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ENOTDIR')) throw new AppBootFailure('load', `app module not found: ${absolute}`);
    if (hasErrorCode(error, 'EACCES')) {
      throw new AppBootFailure(
        'load',
        `cannot read app module ${absolute} as uid ${process.getuid?.()}: permission denied (check --user and the directory modes)`,
      );
    }
    throw error;
  }

  let module: Record<string, unknown>;
  try {
    module = await importApp(absolute);
  } catch (error) {
    const text = describeAppError(error);
    throw new AppBootFailure('load', `cannot load app ${absolute}: ${syntaxErrorLocation(error, absolute) ?? text}`);
  }

  // CommonJS arrives as { default: module.exports }, with named exports only where Node detects them.
  const defaultExport = module['default'];
  let value: unknown;
  let label: string;
  if (reference.exportName === null) {
    value = defaultExport;
    label = `the default export of ${reference.path}`;
  } else {
    const fromDefault =
      typeof defaultExport === 'object' || typeof defaultExport === 'function'
        ? (defaultExport as Record<string, unknown> | null)?.[reference.exportName]
        : undefined;
    value = module[reference.exportName] ?? fromDefault;
    label = `export "${reference.exportName}" of ${reference.path}`;
    if (value === undefined) {
      // A required CommonJS module's names are its exports object's; require(esm) adds __esModule.
      const ownNames = typeof defaultExport === 'object' && defaultExport !== null ? Object.keys(defaultExport) : [];
      const names = [...new Set([...Object.keys(module), ...ownNames])].filter((name) => name !== 'default' && name !== '__esModule');
      throw new AppBootFailure(
        'load',
        `${reference.path} has no export "${reference.exportName}" (it exports: ${names.join(', ') || 'only a default'})`,
      );
    }
  }

  // onDrain: a named export, or a property of the default export or of the value served.
  const drainHooks = new DrainHooks();
  drainHooks.addFrom(module);
  drainHooks.addFrom(defaultExport);

  // A call reads as one: 'createApp() of /srv/shop/app.js', not 'export "createApp" of /srv/shop/app.js()'.
  const call = (argumentList: string): string => `${reference.exportName ?? 'default'}(${argumentList}) of ${reference.path}`;
  if (reference.passServer) {
    if (typeof value !== 'function')
      throw new AppBootFailure('load', `${label} is ${describeValue(value)}, not a function to call with the server`);
    return { form: 'server', attach: value as (server: HttpServer) => unknown, label: call('server'), drainHooks };
  }

  if (reference.callFactory) {
    if (typeof value !== 'function') throw new AppBootFailure('load', `${label} is ${describeValue(value)}, not a factory function`);
    try {
      value = await (value as () => unknown)();
    } catch (error) {
      const detail = describeAppError(error);
      throw new AppBootFailure('init', `${call('')} failed: ${detail}`);
    }
    label = `the value returned by ${call('')}`;
  }
  const listener = toListener(value, label);
  drainHooks.addFrom(value);
  return { form: 'handler', listener, drainHooks };
}
