// Process inspection for tests: liveness (a zombie counts as gone), children, titles, from /proc.
// Runs in the ava test process.

import { readdirSync } from 'node:fs';
import { readProc } from '../../daemon/metrics/process-usage.js';
import { hasErrorCode } from '../../shared/errors.js';

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  readonly comm: string;
}

export function readStat(pid: number): ProcStat | null {
  return readStatFile(`/proc/${pid}/stat`, pid);
}

/** A stat file of /proc: a process's, or one of its threads' (/proc/PID/task/TID/stat, `pid` the thread's id). */
function readStatFile(path: string, pid: number): ProcStat | null {
  const text = readProc(path);
  if (text === null) return null;
  // comm is in parentheses and may contain spaces; the fields after the last ")" are fixed.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(text.indexOf('(') + 1, close), state: fields[0] ?? '?', ppid: Number(fields[1]) };
}

/** Alive and not a zombie (this sandbox's PID 1 reaps orphans late). */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

export function childrenOf(pid: number): number[] {
  return allPids().filter((candidate) => readStat(candidate)?.ppid === pid && isAlive(candidate));
}

/** Every live process (zombies left out) and its parent, from one pass over /proc: pid -> ppid. */
export function parentTable(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (stat !== null && stat.state !== 'Z' && stat.state !== 'X') parents.set(pid, stat.ppid);
  }
  return parents;
}

/**
 * The live children of each pid in a parent table. One pass over /proc serves a whole process tree:
 * calling childrenOf for each node of the tree reads every /proc/PID/stat once per node (24 ms a pass
 * for 150 processes at load 35, so a daemon with 4 workers cost ~150 ms a look).
 */
export function childrenTable(parents: ReadonlyMap<number, number>): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const [pid, parent] of parents) {
    const siblings = children.get(parent);
    if (siblings === undefined) children.set(parent, [pid]);
    else siblings.push(pid);
  }
  return children;
}

export function commandLine(pid: number): string {
  return (readProc(`/proc/${pid}/cmdline`) ?? '').replace(/\0+$/, '').replace(/\0/g, ' ');
}

export function comm(pid: number): string {
  return (readProc(`/proc/${pid}/comm`) ?? '').trim();
}

/** Every live process whose command line contains `text`. */
export function findProcesses(text: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && isAlive(pid) && commandLine(pid).includes(text));
}

/**
 * Polls `probe` until it returns a value. The default limit is generous (30 s): it only bounds how long
 * a failing test takes, and two copies of the suite on a loaded 2-core machine saw 10 s pass before two
 * workers had logged what they do at once on a quiet one.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((settle) => setTimeout(settle, intervalMs));
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if (!hasErrorCode(error, 'ESRCH')) throw error; // already gone: what cleanup wants
  }
}

/** Every thread of `pid` stopped ('T' in its /proc stat: SIGSTOP took effect in each), or the process gone. */
export function isStoppedOrGone(pid: number): boolean {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ESRCH')) return true; // gone, or reaped while we looked
    throw error;
  }
  return threads.every((thread) => {
    const state = readStatFile(`/proc/${pid}/task/${thread}/stat`, Number(thread))?.state ?? 'X';
    return state === 'T' || state === 'Z' || state === 'X';
  });
}

/**
 * SIGSTOPs `pid` and returns once the kernel shows every thread of it stopped, or it is gone. kill() only
 * queues the signal: a thread preempted inside a system call finishes that call before it stops, so what
 * the process holds is fixed only once it has stopped. The race this guards, inferred from a CI failure
 * (one reset on a connection missing from a stopped worker's list, faults/worker-kills): a worker's
 * accept4 installing a connection after the test had listed its sockets.
 */
export async function stopProcess(pid: number, timeoutMs = 5000): Promise<void> {
  killQuietly(pid, 'SIGSTOP');
  await waitFor(`pid ${pid} to stop`, () => isStoppedOrGone(pid), timeoutMs, 1);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((settle) => setTimeout(settle, ms));
}
