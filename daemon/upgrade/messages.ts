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
}

export function parseUpgradeOrigin(text: string): UpgradeOrigin | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || !('pid' in value) || !('generation' in value) || !('node' in value)) return null;
    const { pid, generation, node } = value;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || typeof generation !== 'number' || !Number.isInteger(generation) || generation < 1) return null;
    return typeof node === 'string' ? { pid, generation, node } : null;
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
  if (value.type === 'successor-ready') return 'pid' in value && typeof value.pid === 'number' && 'summary' in value && typeof value.summary === 'string';
  if (value.type === 'successor-failed') return 'exitCode' in value && typeof value.exitCode === 'number' && 'message' in value && typeof value.message === 'string';
  return false;
}

/** The pidfile the old master moves to once its successor took over (Unicorn's and nginx's name). */
export function oldPidfilePath(pidfile: string): string {
  return `${pidfile}.oldbin`;
}
