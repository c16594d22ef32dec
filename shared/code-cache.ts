// A CommonJS bundle run from the V8 code cache `npm run build` made beside it: the bytecode of all its
// functions, so a short-lived process neither parses nor compiles them. Run by appctl's bin (ctl/bin.ts).

import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { hasErrorCode } from './errors.js';

/** Where a bundle's code cache lives: beside it, named after it. */
export function codeCachePath(bundlePath: string): string {
  return `${bundlePath}.v8-cache`;
}

/**
 * The first line of a cache file, naming the bundle it was made from by size and modification time.
 * V8 itself checks only its own version, its flags and the source's length: a bundle rebuilt to the same
 * length without a new cache would run the old bytecode. A hash of the source would need node:crypto,
 * which costs more start-up than the cache saves.
 */
export function codeCacheHeader(bundlePath: string): string {
  const { size, mtimeNs } = statSync(bundlePath, { bigint: true });
  return `appd code cache 1 ${size} ${mtimeNs}\n`;
}

/**
 * Node's CommonJS wrapper, on a line of its own so that the bundle's lines keep their numbers (lineOffset
 * -1) in stack traces. A first line `#!…` is valid only at the very start of a script, so it becomes a
 * comment.
 */
export function wrappedSource(bundlePath: string): string {
  const source = readFileSync(bundlePath, 'utf8').replace(/^#!/, '//');
  return `(function (exports, require, module, __filename, __dirname) {\n${source}\n})`;
}

/** The compiled bundle; `cacheAccepted` is false without a cache file, with a stale one, or when V8 refused it. */
export function compileBundle(bundlePath: string): { readonly script: Script; readonly cacheAccepted: boolean } {
  const cachedData = readCodeCache(bundlePath);
  const script = new Script(wrappedSource(bundlePath), { filename: bundlePath, lineOffset: -1, cachedData });
  return { script, cacheAccepted: cachedData !== undefined && !script.cachedDataRejected };
}

/** V8's part of the cache file, or undefined when there is none or it names another build of the bundle. */
function readCodeCache(bundlePath: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(codeCachePath(bundlePath));
  } catch (error) {
    // No cache is a build without one (tsc alone, an older build): the bundle compiles as under require().
    if (hasErrorCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  const header = codeCacheHeader(bundlePath);
  return file.subarray(0, header.length).toString('latin1') === header ? file.subarray(header.length) : undefined;
}

/** Runs the CommonJS file at `bundlePath` as require() would (its own require, module, __filename, __dirname). */
export function runBundle(bundlePath: string): void {
  const { script } = compileBundle(bundlePath);
  const commonJsModule = { exports: {} };
  const run = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    directory: string,
  ) => void;
  run(commonJsModule.exports, createRequire(bundlePath), commonJsModule, bundlePath, dirname(bundlePath));
}
