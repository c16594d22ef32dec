// Runs a CommonJS bundle with V8's code cache for it kept in a directory only this user can write, so a
// process's start does not compile the same functions every time. Run by appctl (ctl/bin.ts, and its
// commander program: tools/bundle.ts's loadedApart) and by each HTTP worker serving an app module
// (daemon/worker/bin.ts).
//
// Why: a plain `appctl status` runs once per call, and what it runs (the control client, the msgpack codec,
// the renderer) V8 compiles lazily, function by function, on every call. From the code cache those come
// compiled: origin to output 24.1 -> 22.0 ms (min of 40 interleaved runs; median 30.6 -> 27.9), against
// 19.1 for a script that only connects and sends prebuilt bytes (Node 20). A worker compiles its 86 KB
// runtime on every spawn (2 ms) before the app loads. Node 22's
// module.enableCompileCache does the same but not on Node 20, and loads node:module, the ES loader with it.
//
// Trust: V8 deserializes the cache as compiled code, so a cache someone else could write would run as
// whoever runs appctl or the worker (root). The directory is $XDG_CACHE_HOME/appd or ~/.cache/appd, used only when it
// is this user's and no one else may write it, reached through its descriptor (no path swap between the
// check and the open), and every file in it is opened without following a link and checked the same way.
// Anything unexpected means running without the cache, never failing the command. The file name carries
// the Node version and options, the bundle's path, size, mtime and inode: V8 itself only compares the
// source's length. It is written at exit, holding what the process compiled: a worker's, when it is
// retired (a reload, a scale-down), serves the workers started after it.
// NODE_DISABLE_COMPILE_CACHE=1 (Node's own switch for its cache) turns it off.

import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { hasErrorCode } from './errors.js';
import { unlinkIfPresent } from './unlink-if-present.js';

/** FNV-1a of a text, as 8 hex digits: a name part, not a secret (node:crypto costs ~15 ms to load). */
function nameHash(text: string): string {
  let hash = 0x811c9dc5;
  for (const character of text) {
    hash ^= character.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** Errors that mean "no cache this time": missing, read-only or full file systems, a foreign or odd entry. */
const CACHE_UNAVAILABLE = ['ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ELOOP', 'ENOTDIR', 'EEXIST', 'EISDIR', 'EMLINK'];

/** A code cache larger than this is not V8's for a bundle of ours: not read. */
const MAX_CACHE_BYTES = 32 * 1024 * 1024;

const OPEN_DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Whether `stats` is this user's and no one else may write it. */
function ownPrivate(stats: Stats, self: number): boolean {
  return stats.uid === self && (stats.mode & 0o022) === 0;
}

/**
 * Opens `directory`, made (0700) first if missing: made only on a first run, since trying to make it
 * on every run cost appctl status a system call and a first run of mkdirSync's code.
 */
function openOrMakeDirectory(directory: string): number {
  try {
    return openSync(directory, OPEN_DIRECTORY);
  } catch (error) {
    if (!hasErrorCode(error, 'ENOENT')) throw error;
  }
  // recursive: another run making it at the same moment is no error.
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  return openSync(directory, OPEN_DIRECTORY);
}

/** The cache directory's descriptor, created if need be under a base this user owns; null when there is none to trust. */
function openCacheDirectory(environment: NodeJS.ProcessEnv, self: number): number | null {
  const xdg = environment['XDG_CACHE_HOME'];
  const home = environment['HOME'];
  let base: string;
  if (xdg !== undefined && xdg.startsWith('/')) {
    // Used only as it is: an XDG_CACHE_HOME that is missing or another user's (sudo -E) gets nothing made in it.
    base = xdg;
  } else if (home !== undefined && home.startsWith('/')) {
    // Under sudo HOME may still be the invoking user's: root then creates nothing in it.
    if (lstatSync(home).uid !== self) return null;
    base = join(home, '.cache');
    if (lstatSync(base, { throwIfNoEntry: false }) === undefined) mkdirSync(base, { mode: 0o700 });
  } else return null;
  if (lstatSync(base).uid !== self) return null;
  const fd = openOrMakeDirectory(join(base, 'appd'));
  if (ownPrivate(fstatSync(fd), self)) return fd;
  closeSync(fd);
  return null;
}

/** The whole of an open file, read through its descriptor. */
function readAll(fd: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const read = readSync(fd, buffer, offset, size - offset, offset);
    if (read === 0) break;
    offset += read;
  }
  return buffer.subarray(0, offset);
}

/** The cache file `name` in the directory, if it is this user's private regular file. */
function readCache(directoryFd: number, name: string, self: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/self/fd/${directoryFd}/${name}`, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (hasErrorCode(error, ...CACHE_UNAVAILABLE)) return undefined; // first run of this bundle, or an odd entry
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || !ownPrivate(stats, self) || stats.size > MAX_CACHE_BYTES) return undefined;
    return readAll(fd, stats.size);
  } finally {
    closeSync(fd);
  }
}

/**
 * How old a temporary file is before it counts as abandoned. A writer renames its own within
 * milliseconds of creating it; one left behind belongs to a process killed in between (a worker
 * SIGKILLed at its graceful timeout while it wrote at exit), and nothing else would ever remove it.
 */
const ABANDONED_TEMPORARY_MS = 60_000;

/** Removes a file last written over `ageMs` ago; a young temporary file may still be being written. */
function removeIfOlderThan(path: string, ageMs: number): void {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats !== undefined && Date.now() - stats.mtimeMs > ageMs) unlinkIfPresent(path);
}

/**
 * How long a cache file of another installation (another path, Node or set of options) is kept unused
 * since it was written. One still in use and older is rewritten by its installation's next run.
 */
const UNUSED_CACHE_MS = 30 * 24 * 3600 * 1000;

/**
 * Removes what the write of `name` makes dead: abandoned temporary files, the caches of earlier builds at
 * the same path (an upgrade in place) and other caches written over UNUSED_CACHE_MS ago (installations
 * since removed). Another installation's recent cache is kept: two installs of appd used by one user in
 * turn (a global appctl and a project's, two apps' workers) each removed the other's at every write, and
 * both then ran uncached every time.
 */
function removeDeadEntries(directory: string, prefix: string, name: string): void {
  for (const entry of readdirSync(directory)) {
    if (entry.endsWith('.tmp')) removeIfOlderThan(join(directory, entry), ABANDONED_TEMPORARY_MS);
    else if (entry.startsWith(prefix) && entry !== name) unlinkIfPresent(join(directory, entry));
    else if (entry.endsWith('.v8') && entry !== name) removeIfOlderThan(join(directory, entry), UNUSED_CACHE_MS);
  }
}

/** Replaces the cache for `prefix` with `data` (written aside, then renamed: a concurrent run reads old or new). */
function writeCache(directoryFd: number, prefix: string, name: string, data: Buffer): void {
  const directory = `/proc/self/fd/${directoryFd}`;
  const temporary = `${name}.${process.pid}.tmp`;
  try {
    const fd = openSync(
      join(directory, temporary),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(join(directory, temporary), join(directory, name));
    removeDeadEntries(directory, prefix, name);
  } catch (error) {
    if (!hasErrorCode(error, ...CACHE_UNAVAILABLE)) throw error;
    // No room, a read-only home, a racing run that removed it: the next run compiles and tries again.
    unlinkIfPresent(join(directory, temporary));
  }
}

export type BundleImport = (specifier: string) => Promise<unknown>;

export interface CachedBundle {
  /** The bundle's absolute path. */
  readonly file: string;
  /** Names its cache files: `${label}-${node version}-${arch}-${options hash}-${path hash}-${size}-${mtime}-${inode}.v8`. */
  readonly label: string;
  /** The require the bundle gets (the caller's own: the bundle sits in the same folder). */
  readonly require: NodeJS.Require;
  readonly module: NodeJS.Module;
  /** import() as the caller's module does it (Node's own loader), for a bundle that imports ES modules. */
  readonly importModule?: BundleImport;
}

/**
 * Runs the bundle as Node would require it, through the code cache when one can be trusted. A vm.Script
 * has no ES loader for its import() (vm's USE_MAIN_CONTEXT_DEFAULT_LOADER prints an ExperimentalWarning
 * at the first use, Node 20 and 24), so the bundle gets the caller's import() as `appdImport`.
 */
export function runCachedBundle(bundle: CachedBundle, environment: NodeJS.ProcessEnv = process.env): void {
  const bundleFd = openSync(bundle.file, constants.O_RDONLY);
  let source: string;
  let identity: string;
  try {
    const stats = fstatSync(bundleFd);
    source = readAll(bundleFd, stats.size).toString('utf8');
    identity = `${stats.size}-${Math.trunc(stats.mtimeMs)}-${stats.ino}`;
  } finally {
    closeSync(bundleFd);
  }
  // One cache per bundle, Node, node options (V8 refuses a cache made under other V8 flags; a pool's
  // --node-args are such flags) and installation: a new build replaces its own, two Nodes, pools or
  // installations in turn keep theirs. --title (a worker's name, slot and generation) changes nothing V8 compiles.
  const options = process.execArgv.filter((option) => !option.startsWith('--title'));
  const prefix = `${bundle.label}-${process.version}-${process.arch}-${nameHash(options.join('\0'))}-${nameHash(bundle.file)}-`;
  const name = `${prefix}${identity}.v8`;
  const self = process.geteuid?.() ?? 0;
  let directoryFd: number | null = null;
  if (!environment['NODE_DISABLE_COMPILE_CACHE']) {
    try {
      directoryFd = openCacheDirectory(environment, self);
    } catch (error) {
      if (!hasErrorCode(error, ...CACHE_UNAVAILABLE)) throw error;
      // No home, a read-only one, or a link where the directory should be: run without the cache.
    }
  }
  const cached = directoryFd === null ? undefined : readCache(directoryFd, name, self);
  // Node's CommonJS wrapper, on the bundle's first line so its line numbers stay; a shebang becomes a comment.
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const script = new Script(`(function (exports, require, module, __filename, __dirname, appdImport) { ${body}\n})`, {
    filename: bundle.file,
    cachedData: cached,
  });
  if (directoryFd !== null && (cached === undefined || script.cachedDataRejected === true)) {
    const directory = directoryFd;
    // At exit, not now: the cache then holds every function this run compiled, not only the top level.
    process.once('exit', () => writeCache(directory, prefix, name, script.createCachedData()));
  } else if (directoryFd !== null) closeSync(directoryFd);
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: NodeJS.Module,
    filename: string,
    dirname: string,
    appdImport: BundleImport | undefined,
  ) => void;
  wrapper(bundle.module.exports, bundle.require, bundle.module, bundle.file, dirname(bundle.file), bundle.importModule);
}

/**
 * `require(file)` of a bundle through the code cache: its module.exports. For a bundle loaded apart from
 * the one running (tools/bundle.ts's loadedApart): appctl's commander program, 259 KB that every
 * subcommand but a plain status compiles: appctl --version 39.9 -> 30.9 ms, appctl ping 43.6 -> 39.4 ms (min of
 * 40 interleaved runs, Node 20).
 */
export function requireCachedBundle(file: string, label: string, require: NodeJS.Require): unknown {
  // A module of its own, as require would make: only its exports matter to the caller.
  const module = { exports: {} } as NodeJS.Module;
  runCachedBundle({ file, label, require, module });
  return module.exports;
}
