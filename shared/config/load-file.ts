// Loads a config file (appd.config.js|mjs|cjs|json) into a plain object of raw setting values.
// Run by the appd master at start and again on every reload (HUP); never caches a stale copy.

import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, describeError } from '../errors.js';
import { refuseUntrusted } from '../trust/file-trust.js';

export const CONFIG_FILE_NAMES = ['appd.config.js', 'appd.config.mjs', 'appd.config.cjs', 'appd.config.json'] as const;
const EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.json']);

/** The config file appd would pick up from `directory` when none is named. */
export function findDefaultConfigFile(directory: string): string | null {
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = resolve(directory, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The URL each config file was last imported under, and the content it had then (kept whole: a config
 * file is a few KB, and comparing it needs no node:crypto, which costs the master 2-3 MB to load).
 */
const importedVersions = new Map<string, { readonly content: Buffer; readonly url: string }>();
let importCount = 0;

/**
 * Imports a JS config file as it is on disk now, evaluating it again only when its content changed.
 *
 * Why: the ES module loader keeps every module it ever loaded, under its URL, for the life of the
 * process, failed ones included (ESM cannot unload). Importing under a new URL on every reload kept one
 * module per reload (+7 KB each for a 4.5 KB config); the same content now maps to the same URL, so
 * unchanged reloads and a config that keeps failing to parse cost nothing, and each distinct content
 * costs one module. A CommonJS file is also cached by filename in require.cache: dropped before a
 * fresh import so that it is read again. A function export is still called on every load.
 */
async function importConfigModule(absolute: string): Promise<unknown> {
  const content = readFileSync(absolute);
  const known = importedVersions.get(absolute);
  if (known?.content.equals(content)) return import(known.url);
  importCount += 1;
  const url = `${pathToFileURL(absolute).href}?version=${importCount}`;
  // Only a CommonJS file (.js, .cjs) is in require.cache; node:module (Node's ES module loader and source-map
  // support: +0.2 MB on Node 20) is loaded for it alone, not into every master.
  if (extname(absolute) !== '.mjs') {
    const { createRequire } = await import('node:module');
    delete createRequire(import.meta.url).cache[absolute];
  }
  importedVersions.set(absolute, { content, url });
  try {
    return await import(url);
  } finally {
    // Race: the file changed between our read and the loader's own. That URL then holds other
    // content than recorded: forget it, so the next load imports afresh.
    if (!readFileSync(absolute).equals(content)) importedVersions.delete(absolute);
  }
}

/** "file:///x/appd.config.mjs:3" at the top of a SyntaxError's stack says where the mistake is. */
function syntaxErrorLocation(error: unknown): string {
  if (!(error instanceof SyntaxError) || !error.stack) return '';
  const firstLine = error.stack.split('\n')[0] ?? '';
  const match = /^(?:file:\/\/)?(\/.*:\d+)$/.exec(firstLine.trim());
  return match?.[1] ? ` at ${match[1]}` : '';
}

export async function loadConfigFile(path: string): Promise<Record<string, unknown>> {
  const absolute = resolve(path);
  const extension = extname(absolute);
  if (!EXTENSIONS.has(extension)) {
    throw new ConfigError(`config file ${path}: unsupported extension "${extension}" (use .js, .mjs, .cjs or .json)`);
  }
  if (!existsSync(absolute)) throw new ConfigError(`config file ${path}: no such file`);
  // Its code runs in the master (often root), at start and on every reload: checked each time.
  refuseUntrusted('config file', absolute);

  let exported: unknown;
  if (extension === '.json') {
    try {
      exported = JSON.parse(readFileSync(absolute, 'utf8'));
    } catch (error) {
      throw new ConfigError(`config file ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else {
    try {
      const module = (await importConfigModule(absolute)) as { default?: unknown };
      exported = 'default' in module ? module.default : module;
      if (typeof exported === 'function') exported = await (exported as () => unknown)();
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : describeError(error);
      throw new ConfigError(`config file ${path}: ${reason}${syntaxErrorLocation(error)}`);
    }
  }
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw new ConfigError(
      `config file ${path}: must export an object of settings (got ${Array.isArray(exported) ? 'a list' : typeof exported})`,
    );
  }
  return exported as Record<string, unknown>;
}
