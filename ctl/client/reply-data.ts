// The data of a daemon's "completed" reply, checked before appctl reads it: a daemon of another
// version, or something else on the socket, may send none or another shape. Run by appctl.

import type { Outcome } from '../../shared/control/protocol.js';
import type { PingData, SettingStatus, StatusSnapshot } from '../../shared/control/status.js';
import { ControlFailure } from './errors.js';

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isPingData(value: unknown): value is PingData {
  return (
    isFields(value) &&
    typeof value['name'] === 'string' &&
    typeof value['pid'] === 'number' &&
    typeof value['phase'] === 'string' &&
    typeof value['uptimeMs'] === 'number'
  );
}

/**
 * The top of a snapshot: a format number, the master and a pool list. Callers compare the format with
 * STATUS_FORMAT themselves (to say which versions differ); the renderers check nothing deeper.
 */
export function isStatusSnapshot(value: unknown): value is StatusSnapshot {
  return isFields(value) && typeof value['format'] === 'number' && isFields(value['master']) && Array.isArray(value['pools']);
}

export function isSettingRows(value: unknown): value is SettingStatus[] {
  return Array.isArray(value) && value.every((row) => isFields(row) && typeof row['key'] === 'string' && typeof row['source'] === 'string');
}

/**
 * The reply's data if it has the shape `guard` expects; otherwise a ControlFailure (exit 1) naming the
 * request and what was missing, never a TypeError further on.
 */
export function replyData<T>(
  outcome: Outcome & { status: 'completed' },
  request: string,
  guard: (value: unknown) => value is T,
  expected: string,
): T {
  if (guard(outcome.data)) return outcome.data;
  const got =
    outcome.data === undefined ? 'no data' : `data of another shape (${Array.isArray(outcome.data) ? 'a list' : typeof outcome.data})`;
  throw new ControlFailure(
    `the daemon answered ${request} with ${got}, not ${expected}: is it an appd of another version? Use the appctl installed with the daemon`,
  );
}
