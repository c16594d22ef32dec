// Settings table, part 4: pools. Settings a pool may override (perPool), settings that exist only per
// pool (command), the supervisor-style crash policy, and the `pools` key itself. Read by the appd master.

import { defineSetting, type AnySetting } from './define.js';
import { InvalidValue, kinds, type ValueKind } from './kinds.js';
import { splitShellWords } from '../config/shell-words.js';
import { closestName } from '../config/closest-key.js';
import { camelCase } from './define.js';
import { PROCESS_SETTINGS } from './table-process.js';
import { CONFIG_AND_WORKER_SETTINGS } from './table-workers.js';

/** A command pool's program and arguments: a list, or one string split like a shell would. */
const commandKind: ValueKind<string[] | null> = {
  meta: 'ARGV',
  parse(raw) {
    if (raw === null || raw === undefined) return null;
    const argv = typeof raw === 'string' ? splitShellWords(raw) : raw;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((item) => typeof item === 'string' && item !== '')) {
      throw new InvalidValue('expected a non-empty list of strings (program and arguments) or a command line');
    }
    return argv as string[];
  },
  format: (value) => (value === null ? '(none)' : value.map((word) => (/[\s"'\\]/.test(word) ? JSON.stringify(word) : word)).join(' ')),
};

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL'] as const;

export const POOL_POLICY_SETTINGS = [
  defineSetting({
    key: 'command',
    section: 'Pools',
    kind: commandKind,
    default: null,
    cli: 'config-only',
    poolOnly: true,
    reload: 'workers',
    summary: 'Run this program (argv list or command line) instead of an app: a command pool.',
    doc: 'Any program, run WORKERS times, with APPD_POOL and APPD_SLOT in its environment. With bind, it receives the listening sockets the systemd way: fd 3 onwards, LISTEN_FDS, LISTEN_PID (its own pid) and LISTEN_FDNAMES (the bind addresses). Its stdout and stderr go to the log tagged with pool and slot.',
  }),
  defineSetting({
    key: 'stopSignal',
    section: 'Pools',
    kind: kinds.enumOf(STOP_SIGNALS),
    default: 'SIGTERM',
    cli: 'config-only',
    perPool: true,
    reload: 'workers',
    summary: "The signal that asks a command pool's process to stop.",
    doc: 'Sent on stop, scale-down, restart and reload; if the process is still running graceful-timeout seconds later it gets SIGKILL. HTTP workers always get SIGTERM, which they answer by draining.',
  }),
  defineSetting({
    key: 'startSeconds',
    section: 'Pools',
    kind: kinds.seconds,
    default: 1,
    perPool: true,
    reload: 'workers',
    summary: 'A process must stay up this long to count as started.',
    doc: "An HTTP worker is started once it is ready and has run this long; a command pool's process once it has run this long. An exit before that is a failed start (so is a boot timeout, or an HTTP worker killed for its timeout this early): the slot is restarted with exponential backoff (0.25 s doubling up to 30 s, with jitter), and after start-retries failed starts in a row it is fatal. Whatever start-seconds says (0 included), a process that exits within 1 s of its start backs off the same way (but is never made fatal for it when start-seconds counted it started), and appd starts at most 20 workers a second across all pools (bursts of 64), so a crash loop cannot take the master down. A process killed from outside (kill -9 by an operator or a chaos tool: a signal appd did not send and the process did not raise itself by crashing) is started again at once and is never a failed start; a SIGKILL while the kernel counts an OOM kill (/proc/vmstat oom_kill) is one.",
  }),
  defineSetting({
    key: 'startRetries',
    section: 'Pools',
    kind: kinds.integer(0, 1_000_000),
    default: 10,
    perPool: true,
    reload: 'workers',
    summary: 'Failed starts in a row after which a slot gives up (state fatal).',
    doc: 'A fatal slot stays down, visible in appctl status, until an operator runs appctl restart POOL (or start-pool). 0 means give up after the first failed start.',
  }),
  defineSetting({
    key: 'restart',
    section: 'Pools',
    kind: kinds.enumOf(['always', 'on-failure', 'never'] as const),
    default: 'always',
    cli: 'config-only',
    perPool: true,
    reload: 'workers',
    summary: "When a command pool's process that exited is started again.",
    doc: 'always: whatever the exit; on-failure: unless it exited with code 0; never: the slot stays exited. HTTP workers are always replaced.',
  }),
  defineSetting({
    key: 'maxMemory',
    section: 'Pools',
    kind: kinds.bytes,
    default: 0,
    perPool: true,
    reload: 'workers',
    summary: 'Recycle a worker whose resident memory (RSS) exceeds this; 0: never.',
    doc: "Checked every second from /proc. An HTTP worker is replaced the way max-requests does it: its successor is ready before it drains. A command pool's process is stopped and started again.",
  }),
] as const;

/** Settings that may appear inside pools.NAME: every perPool and poolOnly setting, plus bind. */
function poolKeys(): Map<string, AnySetting> {
  const all: readonly AnySetting[] = [...CONFIG_AND_WORKER_SETTINGS, ...PROCESS_SETTINGS, ...POOL_POLICY_SETTINGS];
  return new Map(all.filter((setting) => setting.perPool || setting.poolOnly).map((setting) => [setting.key, setting]));
}

/** One pool's overrides, parsed by each setting's own kind; absent keys fall back to the global value. */
export type PoolOverrides = Readonly<Record<string, unknown>>;
export type PoolDefinitions = Readonly<Record<string, PoolOverrides>>;

const poolsKind: ValueKind<PoolDefinitions | null> = {
  meta: 'OBJECT',
  parse(raw) {
    if (raw === null || raw === undefined) return null;
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidValue('expected an object: { poolName: { ...settings } }');
    const keys = poolKeys();
    const pools: Record<string, PoolOverrides> = {};
    for (const [name, definition] of Object.entries(raw)) {
      try {
        kinds.name.parse(name);
      } catch (error) {
        throw new InvalidValue(`pool name "${name}": ${error instanceof Error ? error.message : String(error)}`);
      }
      if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
        throw new InvalidValue(`pools.${name}: expected an object of settings`);
      }
      const overrides: Record<string, unknown> = {};
      for (const [rawKey, value] of Object.entries(definition)) {
        const key = camelCase(rawKey);
        const setting = keys.get(key);
        if (!setting) {
          const suggestion = closestName(key, keys.keys());
          throw new InvalidValue(`pools.${name}: "${rawKey}" cannot be set per pool${suggestion ? `; did you mean "${suggestion}"?` : ''}`);
        }
        try {
          overrides[key] = setting.kind.parse(value);
        } catch (error) {
          if (!(error instanceof InvalidValue)) throw error;
          throw new InvalidValue(`pools.${name}.${key}: ${error.message}`);
        }
      }
      const programs = ['app', 'script', 'command'].filter((key) => overrides[key] !== undefined && overrides[key] !== null);
      if (programs.length !== 1) {
        throw new InvalidValue(
          `pools.${name}: give exactly one of app, script or command (it has ${programs.length === 0 ? 'none' : programs.join(' and ')})`,
        );
      }
      pools[name] = overrides;
    }
    if (Object.keys(pools).length === 0) throw new InvalidValue('expected at least one pool');
    return pools;
  },
  format: (value) => (value === null ? '(none: one pool "web" from app or script)' : Object.keys(value).join(', ')),
};

export const POOLS_SETTING = defineSetting({
  key: 'pools',
  section: 'Pools',
  kind: poolsKind,
  default: null,
  cli: 'config-only',
  reload: 'live',
  summary: 'Several named pools in one daemon: { web: { app, workers, bind }, jobs: { command, workers } }.',
  doc: 'Each pool is an HTTP pool (app or script) or a command pool (command), with its own workers and bind, and any setting marked per pool here overriding the global one. Without pools, app or script makes one HTTP pool named web on the global bind. With pools, bind is per pool. Pools added, removed or changed in the config file are applied on reload.',
});
