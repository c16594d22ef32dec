// The contract between an appd master and the successor it starts on upgrade (USR2, appctl upgrade):
// the environment that marks the successor, and the reports it sends back over their IPC channel.
// Used by both masters (daemon/upgrade/coordinator.ts in the old one, daemon/upgrade/successor.ts in the new one).

/** Set for a successor master: JSON UpgradeOrigin. Removed at start (workers never see it). */
export const UPGRADE_FROM_VARIABLE = 'APPD_UPGRADE_FROM';

export interface UpgradeOrigin {
  /** The old master's pid. */
  readonly pid: number;
  /** The generation the successor's workers start at: past the old master's, so ps tells them apart. */
  readonly generation: number;
  /** The Node it was started with, as named (see node-launcher.ts): its own successor uses it too. */
  readonly node: string;
  /** Each pool's run-time state (appctl scale, stop-pool), so the successor starts where this master was. */
  readonly pools: readonly HandedPoolState[];
}

/** One pool of the old master as an operator left it; the successor compares it with its own config. */
export interface HandedPoolState {
  readonly name: string;
  /** The worker count TTIN/TTOU or appctl scale set (or the config's, if nobody did). */
  readonly target: number;
  /** The workers setting the old master ran with: a target that differs from it was a run-time change. */
  readonly configured: number;
  /** appctl stop-pool: no workers until start-pool. */
  readonly stopped: boolean;
}

/** Bounds on what a successor accepts from its environment (as many pools as any config could hold). */
const MAX_HANDED_POOLS = 1024;
const MAX_WORKERS = 4096;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_WORKERS;
}

function parseHandedPools(value: unknown): HandedPoolState[] | null {
  // An old master of an earlier appd hands nothing: the successor starts from its config, as before.
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_HANDED_POOLS) return null;
  const pools: HandedPoolState[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const { name, target, configured, stopped } = item as Record<string, unknown>;
    if (
      typeof name !== 'string' ||
      !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) ||
      !isCount(target) ||
      !isCount(configured) ||
      typeof stopped !== 'boolean'
    )
      return null;
    pools.push({ name, target, configured, stopped });
  }
  return pools;
}

export function parseUpgradeOrigin(text: string): UpgradeOrigin | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || !('pid' in value) || !('generation' in value) || !('node' in value)) return null;
    const { pid, generation, node } = value;
    if (
      typeof pid !== 'number' ||
      !Number.isInteger(pid) ||
      pid <= 0 ||
      typeof generation !== 'number' ||
      !Number.isInteger(generation) ||
      generation < 1
    )
      return null;
    const pools = parseHandedPools('pools' in value ? value.pools : undefined);
    return typeof node === 'string' && pools !== null ? { pid, generation, node, pools } : null;
  } catch (error) {
    if (error instanceof SyntaxError) return null; // set by hand to something else: not an upgrade
    throw error;
  }
}

/** What a successor tells the master that started it. */
export type SuccessorReport =
  /** Sent first: an orphaned successor's pid is known from this (see successor-process.ts). */
  | { readonly type: 'successor-started'; readonly pid: number }
  /** Its workers are ready and it holds the control socket path and the pidfile now. */
  | { readonly type: 'successor-ready'; readonly pid: number; readonly summary: string }
  /** It cannot start (config error, no worker ready, bind error); it exits with `exitCode` next. */
  | { readonly type: 'successor-failed'; readonly exitCode: number; readonly message: string };

/** Narrowing for messages arriving on the IPC channel, which are untyped JSON. */
export function isSuccessorReport(value: unknown): value is SuccessorReport {
  if (typeof value !== 'object' || value === null || !('type' in value)) return false;
  if (value.type === 'successor-started') return 'pid' in value && typeof value.pid === 'number';
  if (value.type === 'successor-ready')
    return 'pid' in value && typeof value.pid === 'number' && 'summary' in value && typeof value.summary === 'string';
  if (value.type === 'successor-failed')
    return 'exitCode' in value && typeof value.exitCode === 'number' && 'message' in value && typeof value.message === 'string';
  return false;
}

/** The pidfile the old master moves to once its successor took over (Unicorn's and nginx's name). */
export function oldPidfilePath(pidfile: string): string {
  return `${pidfile}.oldbin`;
}
