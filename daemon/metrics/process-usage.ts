// Resident memory and CPU use of the master and its workers, read from /proc (never asked of the
// workers: a stuck worker cannot answer). Run by the appd master when it builds a status snapshot.

import { readFileSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';

/**
 * Clock ticks per second of /proc/PID/stat: USER_HZ, which the kernel ABI fixes at 100 on every
 * architecture Node runs on (getconf CLK_TCK), whatever CONFIG_HZ the kernel was built with.
 */
const TICKS_PER_SECOND = 100;
/** Two samples closer than this give a meaningless percentage; the previous figure is kept. */
const MINIMUM_INTERVAL_MS = 250;

export interface Usage {
  readonly rssBytes: number;
  /** Percent of one core. */
  readonly cpuPercent: number;
}

interface Sample {
  readonly at: number;
  readonly ticks: number;
  readonly cpuPercent: number;
}

/** Reads a /proc file; null when the process is gone (it exited between the listing and the read). */
export function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ESRCH')) return null;
    throw error;
  }
}

/** utime + stime, and the start time, both in ticks; comm (field 2) may hold spaces and parentheses. */
function readCpuTicks(pid: number): { busy: number; startedAfterBoot: number } | null {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After comm: state is field 3, so field N is at index N - 3 (utime 14, stime 15, starttime 22).
  return { busy: Number(fields[11]) + Number(fields[12]), startedAfterBoot: Number(fields[19]) };
}

/** CPU time (user and system) a process has used, in seconds; null if it is gone. */
export function readCpuSeconds(pid: number): number | null {
  const ticks = readCpuTicks(pid);
  return ticks === null ? null : ticks.busy / TICKS_PER_SECOND;
}

export function readRssBytes(pid: number): number | null {
  const status = readProc(`/proc/${pid}/status`);
  const kilobytes = status === null ? null : /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return kilobytes ? Number(kilobytes) * 1024 : null;
}

/** Remembers the previous CPU sample per pid, so each reading covers the time since the last one. */
export class ProcessUsage {
  readonly #samples = new Map<number, Sample>();

  /** The current usage of `pid`, or null if it is gone. */
  sample(pid: number, now: number): Usage | null {
    const cpu = readCpuTicks(pid);
    const rssBytes = readRssBytes(pid);
    if (cpu === null || rssBytes === null) return null;
    const previous = this.#samples.get(pid);
    let cpuPercent: number;
    if (previous && now - previous.at < MINIMUM_INTERVAL_MS) return { rssBytes, cpuPercent: previous.cpuPercent };
    if (previous) {
      cpuPercent = ((cpu.busy - previous.ticks) / TICKS_PER_SECOND / ((now - previous.at) / 1000)) * 100;
    } else {
      // First look at this process: its average over its whole life.
      const uptimeSeconds = Number((readProc('/proc/uptime') ?? '0').split(' ')[0]);
      const lifeSeconds = uptimeSeconds - cpu.startedAfterBoot / TICKS_PER_SECOND;
      cpuPercent = lifeSeconds > 0 ? (cpu.busy / TICKS_PER_SECOND / lifeSeconds) * 100 : 0;
    }
    cpuPercent = Math.max(0, Math.round(cpuPercent * 10) / 10);
    this.#samples.set(pid, { at: now, ticks: cpu.busy, cpuPercent });
    return { rssBytes, cpuPercent };
  }

  /** Forgets every pid not in `alive`, so exited workers do not accumulate. */
  retainOnly(alive: ReadonlySet<number>): void {
    for (const pid of this.#samples.keys()) if (!alive.has(pid)) this.#samples.delete(pid);
  }
}
