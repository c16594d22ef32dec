// Relative paths in a config file are relative to that file's directory (as PM2 reads an ecosystem
// file), or to chdir when one is set (a chdir in the file is relative to the file); each is made absolute
// here, so every later check sees the path that will be used. A path on the command line stays relative
// to the working directory.
// Run by the appd master while it resolves settings, at start and on every reload.

import { dirname, isAbsolute, resolve } from 'node:path';
import { parseBindAddress, type BindAddress } from '../bind-address.js';
import { findSetting } from '../settings/table.js';
import { kinds } from '../settings/kinds.js';
import type { AnySetting } from '../settings/define.js';
import { splitAppReference } from './app-reference.js';

/** Where the relative paths of one config file are anchored. */
export interface FileAnchor {
  /** The config file's own directory: a relative chdir in the file is taken from here. */
  readonly fileDirectory: string;
  /** Where the file's other relative paths point: chdir (from any source) when set, else the file's directory. */
  readonly base: string;
}

/**
 * `chdir` is the winning raw chdir and whether the config file gave it; `startDirectory` is where a
 * chdir from the command line or APPD_CMD_ARGS is taken from.
 */
export function fileAnchor(configFile: string, chdir: { value: string; fromFile: boolean } | null, startDirectory: string): FileAnchor {
  const fileDirectory = dirname(configFile);
  const base = chdir === null ? fileDirectory : resolve(chdir.fromFile ? fileDirectory : startDirectory, chdir.value);
  return { fileDirectory, base };
}

function rebasePath(path: string, base: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/** A relative program path (./bin/worker) of a command; a bare name is looked up on PATH as before. */
function rebaseCommand(command: readonly string[], base: string): string[] {
  const [program, ...args] = command;
  if (program === undefined || !/^\.\.?\//.test(program)) return [...command];
  return [resolve(base, program), ...args];
}

function rebaseBinds(binds: readonly BindAddress[], base: string): BindAddress[] {
  return binds.map((bind) =>
    bind.kind === 'unix' && !isAbsolute(bind.path) ? parseBindAddress(`unix:${resolve(base, bind.path)}`) : bind,
  );
}

/** One parsed value a config file gave `setting`, with its relative paths anchored per `anchor`. */
export function anchorFileValue(setting: AnySetting, value: unknown, anchor: FileAnchor): unknown {
  if (setting.key === 'chdir') return typeof value === 'string' ? rebasePath(value, anchor.fileDirectory) : value;
  const base = anchor.base;
  if (setting.key === 'pools' && value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, Record<string, unknown>>).map(([name, overrides]) => [
        name,
        Object.fromEntries(Object.entries(overrides).map(([key, override]) => [key, poolOverride(key, override, anchor)])),
      ]),
    );
  }
  if (typeof value === 'string') {
    // "-" is stdout or stderr for the log settings, not a file.
    if (setting.kind === kinds.path) return value === '-' ? value : rebasePath(value, base);
    if (setting.key === 'app') {
      const [path, suffix] = splitAppReference(value);
      return `${rebasePath(path, base)}${suffix}`;
    }
  }
  if (setting.kind === kinds.bindList && Array.isArray(value)) return rebaseBinds(value as BindAddress[], base);
  if (setting.key === 'command' && Array.isArray(value)) return rebaseCommand(value as string[], base);
  return value;
}

function poolOverride(key: string, value: unknown, anchor: FileAnchor): unknown {
  const setting = findSetting(key);
  return setting ? anchorFileValue(setting, value, anchor) : value;
}
