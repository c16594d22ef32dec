// What every contender in the bench is (appd, node:http, node:cluster, PM2, Gunicorn), and the helpers
// to start one as a process group, wait for it to serve, and find its workers. Runs in the bench process.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf, commandLine, isAlive, killQuietly, sleep, waitFor } from '../../helpers/processes.js';
import { registerProcessGroup } from '../cleanup.js';
import { hasErrorCode } from '../../../shared/errors.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const BENCH_FIXTURES = join(PROJECT_ROOT, 'test/fixtures/bench');

export type ContenderKey = 'appd' | 'node' | 'cluster-rr' | 'cluster-none' | 'pm2' | 'gunicorn';

export const CONTENDER_LABELS: Readonly<Record<ContenderKey, string>> = {
  appd: 'appd',
  node: 'node:http (1 process)',
  'cluster-rr': 'node:cluster RR',
  'cluster-none': 'node:cluster SCHED_NONE',
  pm2: 'PM2 cluster mode',
  gunicorn: 'Gunicorn',
};

export interface Contender {
  readonly key: ContenderKey;
  readonly url: string;
  /** Where the hello app's workers write their connection and request counts (see hello-app.cjs). */
  readonly statsDirectory: string;
  /** The supervising process (appd master, cluster primary, PM2's God daemon, Gunicorn's arbiter); null for a lone server. */
  masterPid(): number | null;
  workerPids(): number[];
  stop(): Promise<void>;
}

/** A port free right now on 127.0.0.1 (the kernel picks; nothing else here binds in the same instant). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((settle) => server.listen(0, '127.0.0.1', settle));
  const address = server.address();
  await new Promise((settle) => server.close(settle));
  if (address === null || typeof address === 'string') throw new Error('no TCP port from the kernel');
  return address.port;
}

/**
 * The pid in a daemon's pidfile, or null while there is none. Read without asking first whether it
 * exists: `pm2 update` removes PM2's pidfile and writes a new one while the swap row reads it (an
 * existsSync before the read lost that race and ended a 30-minute bench).
 */
export function readPidfile(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return null;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** A fresh, empty directory for a contender's worker stats. */
export function freshDirectory(path: string): string {
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  return path;
}

/** One GET; resolves with the status, or null on any connection error (not serving yet). */
export function probe(url: string, timeoutMs = 2000): Promise<number | null> {
  return new Promise((settle) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      response.on('end', () => settle(response.statusCode ?? null));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => settle(null)); // refused or reset: the server is not up yet, the caller polls again
  });
}

export async function waitUntilServing(url: string, timeoutMs: number): Promise<void> {
  await waitFor(`${url} to answer 200`, async () => (await probe(url)) === 200, timeoutMs, 20);
}

/** Live children of `parent` whose command line contains `marker` (all children when marker is empty). */
export function childWorkers(parent: number | null, marker: string): number[] {
  if (parent === null) return [];
  return childrenOf(parent).filter((pid) => marker === '' || commandLine(pid).includes(marker));
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far. */
  output(): string;
}

/** Spawns a server in its own process group (registered for cleanup), capturing what it prints. */
export function spawnServer(command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): ServerProcess {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  registerProcessGroup(child.pid);
  let printed = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (printed += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (printed += text));
  return { child, pid: child.pid, output: () => printed };
}

/**
 * TERM to `terminate` (the master now serving), up to `graceMs` for it and `others` to go, then SIGKILL
 * to the process group we started and to each of `others`.
 */
export async function stopGroup(leader: number, terminate: number, others: readonly number[], graceMs = 5000): Promise<void> {
  killQuietly(terminate, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && [leader, terminate, ...others].some(isAlive)) await sleep(25);
  try {
    process.kill(-leader, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // the group is already gone
  }
  for (const pid of others) killQuietly(pid);
}

/** Waits until `count` workers exist and the URL answers. */
export async function waitForWorkers(contender: Pick<Contender, 'workerPids' | 'url'>, count: number, timeoutMs: number): Promise<void> {
  await waitFor(`${count} workers`, () => contender.workerPids().length >= count, timeoutMs, 20);
  await waitUntilServing(contender.url, timeoutMs);
}
