// The daemon's default name: the package.json name of the app's package, else the name of the app's
// directory, so that two projects which both serve an app.js get two names (and two control sockets).
// Run by the appd master while it resolves settings.

import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { hasErrorCode } from '../errors.js';
import { splitAppReference } from './app-reference.js';
import { describeSource, type ResolvedConfig } from './resolve.js';

export interface DefaultName {
  readonly name: string;
  /** Where it came from, for the "already running" error: "the name in /srv/shop/package.json". */
  readonly origin: string;
}

/** What the name setting accepts: 1-64 letters, digits, ".", "-" or "_", starting with a letter or digit. */
function asName(text: string): string | null {
  const name = text
    .replace(/^@/, '')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return name === '' ? null : name;
}

/** The "name" of a package.json, or null when it has none (or is not JSON: then it names nothing). */
function packageName(path: string): string | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    const name = typeof parsed === 'object' && parsed !== null && 'name' in parsed ? parsed.name : null;
    return typeof name === 'string' ? asName(name) : null;
  } catch (error) {
    // A broken or unreadable package.json names nothing: the directory names the daemon.
    if (error instanceof SyntaxError || hasErrorCode(error, 'EACCES', 'EISDIR')) return null;
    throw error;
  }
}

/**
 * `program` is the app reference or script (relative to `directory`, where the daemon runs); without
 * one, the config file's directory stands for the project.
 */
export function defaultName(program: string | null, directory: string, configFile: string | null): DefaultName {
  const anchor =
    program !== null ? dirname(resolve(directory, splitAppReference(program)[0])) : configFile !== null ? dirname(configFile) : null;
  if (anchor === null) return { name: 'appd', origin: 'no app or config file to name it after' };
  for (let current = anchor; ; current = dirname(current)) {
    const manifest = resolve(current, 'package.json');
    if (existsSync(manifest)) {
      const name = packageName(manifest);
      if (name !== null) return { name, origin: `the name in ${manifest}` };
    }
    if (dirname(current) === current) break;
  }
  return { name: asName(basename(anchor)) ?? 'appd', origin: `the directory ${anchor}` };
}

/** How the daemon got its name, for the "already running" error: "after the name in /srv/shop/package.json". */
export function describeNameOrigin(resolved: ResolvedConfig, directory: string): string {
  if (resolved.sources.name.kind !== 'default') return `from ${describeSource(resolved.sources.name)}`;
  const program = resolved.values.app ?? resolved.values.script;
  return `by default, after ${defaultName(program, directory, resolved.configFile).origin}`;
}
