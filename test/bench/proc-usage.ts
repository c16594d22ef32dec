// CPU time and memory of processes, read from /proc: what a contender's master and workers used during a
// measurement, and what the rest of the machine used meanwhile (the noise). Runs in the bench process.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hasErrorCode } from '../../shared/errors.js';

/** Clock ticks per second for /proc/PID/stat times (100 on every Linux we know; asked once). */
const TICKS_PER_SECOND = ((): number => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return 100; // no getconf: Linux's USER_HZ is 100
    throw error;
  }
})();

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT', 'ESRCH')) return null; // the process is gone
    throw error;
  }
}

/** The fields after "(comm)" in /proc/PID/stat; field 3 (state) is index 0. */
function statFields(pid: number | 'self'): string[] | null {
  const text = readOrNull(`/proc/${pid}/stat`);
  if (text === null) return null;
  // comm may hold spaces and parentheses (PM2's title does): split after the last ")".
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a live process in seconds (all its threads); 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  if (fields === null) return 0;
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** This process's CPU plus that of its children it has already reaped (wrk, appctl, pm2 runs). */
export function ownAndReapedChildrenCpuSeconds(): number {
  const fields = statFields('self') ?? [];
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

/** Resident set size in kB (VmRSS), or null when the process is gone. */
export function rssKilobytes(pid: number): number | null {
  const status = readOrNull(`/proc/${pid}/status`);
  const match = status === null ? null : /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) : null;
}

/** Busy CPU seconds of the whole machine since boot (every core, idle and iowait excluded). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? 'NaN');
}
