// Loads a config file (appd.config.js|mjs|cjs|json) into a plain object of raw setting values.
// Run by the appd master at start and again on every reload (HUP); never caches a stale copy.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

let loadCount = 0;

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
    // A CommonJS file is cached by filename in require.cache, an ES module by URL: drop the former
    // and vary the latter so that a reload reads what is on disk now.
    const require = createRequire(import.meta.url);
    delete require.cache[absolute];
    loadCount += 1;
    try {
      const module = (await import(`${pathToFileURL(absolute).href}?load=${loadCount}`)) as { default?: unknown };
      exported = 'default' in module ? module.default : module;
      if (typeof exported === 'function') exported = await (exported as () => unknown)();
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : describeError(error);
      throw new ConfigError(`config file ${path}: ${reason}${syntaxErrorLocation(error)}`);
    }
  }
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw new ConfigError(`config file ${path}: must export an object of settings (got ${Array.isArray(exported) ? 'a list' : typeof exported})`);
  }
  return exported as Record<string, unknown>;
}
