// Development reload (--reload): watches the directories of the pools' apps and scripts and the config
// file, and once a burst of changes has settled enqueues one reload, the event HUP enqueues, so changed
// code rolls in slot by slot and broken code is rolled back. Run by the appd master.

import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { hasErrorCode } from '../../shared/errors.js';
import type { ArbiterEvent } from '../arbiter/events.js';
import type { Logger } from '../master/logger.js';
import type { PoolSettings } from '../pools/pool.js';

/** Editors write a file in several steps (temp file, rename, chmod): one reload once they are done. */
const SETTLE_MS = 300;
/** Each directory costs an inotify watch; past this, the rest is not watched (and said so). */
const MAX_DIRECTORIES = 2000;
/** Dependencies and version control do not change while developing the app; editors' swap files are dot-files. */
const SKIPPED = new Set(['node_modules']);

function skipped(name: string): boolean {
  return SKIPPED.has(name) || name.startsWith('.');
}

/** The module file of an app reference: "./app.mjs:createApp()" is ./app.mjs (load-app.ts's grammar). */
function modulePath(reference: string): string {
  return reference.replace(/:[A-Za-z_$][\w$]*(\((server)?\))?$/, '');
}

/** The directories to watch: each pool's app or script directory (a command's program is not ours to watch). */
export function watchedRoots(pools: readonly PoolSettings[], directory: string): string[] {
  const roots = new Set<string>();
  for (const pool of pools) {
    const file = pool.script ?? (pool.app ? modulePath(pool.app) : null);
    if (file === null) continue;
    const path = resolve(directory, file);
    if (existsSync(path)) roots.add(statSync(path).isDirectory() ? path : dirname(path));
  }
  return [...roots];
}

export class ReloadWatcher {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #roots: readonly string[];
  readonly #configFile: string | null;
  readonly #enqueue: (event: ArbiterEvent) => void;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | null = null;
  #changed: string | null = null;
  #warnedFull = false;

  constructor(roots: readonly string[], configFile: string | null, enqueue: (event: ArbiterEvent) => void, logger: Logger) {
    this.#roots = roots;
    this.#configFile = configFile;
    this.#enqueue = enqueue;
    this.#logger = logger;
    this.#scan();
    const watched = [...roots, ...(configFile ? [configFile] : [])].join(', ');
    logger.info(
      `--reload: watching ${this.#watchers.size} director${this.#watchers.size === 1 ? 'y' : 'ies'} (${watched}); a change reloads the workers`,
    );
  }

  /** Watches every directory under the roots not watched yet (new ones appear while developing). */
  #scan(): void {
    const directories = [...this.#roots];
    if (this.#configFile) directories.push(dirname(this.#configFile));
    for (let index = 0; index < directories.length; index += 1) {
      const directory = directories[index] ?? '';
      this.#watch(directory);
      if (!this.#roots.some((root) => directory === root || directory.startsWith(`${root}/`))) continue; // only the config file's directory
      let entries;
      try {
        entries = readdirSync(directory, { withFileTypes: true });
      } catch (error) {
        if (hasErrorCode(error, 'ENOENT', 'ENOTDIR', 'EACCES')) continue; // removed since, or not ours to read
        throw error;
      }
      for (const entry of entries) if (entry.isDirectory() && !skipped(entry.name)) directories.push(join(directory, entry.name));
    }
  }

  #watch(directory: string): void {
    if (this.#watchers.has(directory)) return;
    if (this.#watchers.size >= MAX_DIRECTORIES) {
      if (!this.#warnedFull) this.#logger.warning(`--reload: more than ${MAX_DIRECTORIES} directories; the rest are not watched`);
      this.#warnedFull = true;
      return;
    }
    const inConfigDirectoryOnly =
      this.#configFile !== null &&
      directory === dirname(this.#configFile) &&
      !this.#roots.some((root) => directory === root || directory.startsWith(`${root}/`));
    try {
      const watcher = watch(directory, (_event, name) => {
        const file = typeof name === 'string' ? name : null;
        if (file === null || skipped(basename(file))) return;
        // Next to the config file only the config file itself counts.
        if (inConfigDirectoryOnly && join(directory, file) !== this.#configFile) return;
        this.#changed = join(directory, file);
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.#settled(), SETTLE_MS);
      });
      // A watched directory that is removed reports an error; the next scan watches what exists.
      watcher.on('error', () => {
        watcher.close();
        this.#watchers.delete(directory);
      });
      this.#watchers.set(directory, watcher);
    } catch (error) {
      // ENOSPC: the system's inotify watches are used up; ENOENT: gone since the scan.
      if (!hasErrorCode(error, 'ENOSPC', 'ENOENT', 'EACCES')) throw error;
      if (hasErrorCode(error, 'ENOSPC') && !this.#warnedFull) {
        this.#warnedFull = true;
        this.#logger.warning('--reload: out of inotify watches (fs.inotify.max_user_watches); some directories are not watched');
      }
    }
  }

  #settled(): void {
    this.#timer = null;
    const changed = this.#changed ?? 'a file';
    this.#scan();
    this.#enqueue({ type: 'reload', pool: null, requester: { origin: `--reload (${changed} changed)` } });
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}
