// Loads the app module named by the `app` setting and turns its export into a Node request listener.
// Runs in each HTTP worker process. Import failures are "load" errors (exit 4), factory failures "init" (exit 3).

import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchHandlerToListener, type FetchHandler } from './fetch-adapter.js';

export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** A boot failure with the phase it happened in, so the master picks the right exit code. */
export class AppBootFailure extends Error {
  readonly phase: 'load' | 'init';
  constructor(phase: 'load' | 'init', message: string) {
    super(message);
    this.phase = phase;
  }
}

export interface AppReference {
  readonly path: string;
  readonly exportName: string | null;
  readonly callFactory: boolean;
}

/** "./app.mjs" | "./app.mjs:handler" | "./app.js:createApp()" */
export function parseAppReference(text: string): AppReference {
  const match = /^(.*?)(?::([A-Za-z_$][\w$]*)(\(\))?)?$/.exec(text);
  const path = match?.[1] ?? text;
  if (!path) throw new AppBootFailure('load', `app ${JSON.stringify(text)} names no module`);
  return { path, exportName: match?.[2] ?? null, callFactory: match?.[3] === '()' };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function with ${value.length} parameter(s)`;
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}`;
  return typeof value;
}

/** Request listener, { fetch } handler, or a Koa-style app with callback(). */
function toListener(value: unknown, label: string): RequestListener {
  if (typeof value === 'function') return value as RequestListener;
  if (typeof value === 'object' && value !== null) {
    if ('fetch' in value && typeof value.fetch === 'function') return fetchHandlerToListener(value as FetchHandler);
    if ('callback' in value && typeof value.callback === 'function') {
      const callback = (value.callback as () => unknown).call(value);
      if (typeof callback === 'function') return callback as RequestListener;
    }
  }
  throw new AppBootFailure(
    'load',
    `${label} is ${describeValue(value)}, not a request listener (req, res) or an object with fetch(request)`,
  );
}

export async function loadApp(text: string, directory: string): Promise<RequestListener> {
  const reference = parseAppReference(text);
  const absolute = resolve(directory, reference.path);
  if (!existsSync(absolute)) throw new AppBootFailure('load', `app module not found: ${absolute}`);

  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    throw new AppBootFailure('load', `cannot load app ${absolute}: ${text}`);
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
      const names = Object.keys(module).filter((name) => name !== 'default');
      throw new AppBootFailure('load', `${reference.path} has no export "${reference.exportName}" (it exports: ${names.join(', ') || 'only a default'})`);
    }
  }

  if (reference.callFactory) {
    if (typeof value !== 'function') throw new AppBootFailure('load', `${label} is ${describeValue(value)}, not a factory function`);
    try {
      value = await (value as () => unknown)();
    } catch (error) {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      throw new AppBootFailure('init', `${label}() failed: ${detail}`);
    }
    label = `the value returned by ${label}()`;
  }
  return toListener(value, label);
}
