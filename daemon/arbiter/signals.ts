// The master's signal table (Gunicorn's, DESIGN.md section 4): each signal becomes one event on the
// arbiter's queue and nothing else happens in the listener. Run by the appd master.

import type { ArbiterEvent, Requester } from './events.js';

const FROM_SIGNAL = (signal: NodeJS.Signals): Requester => ({ origin: signal });

/**
 * Installing a listener also removes Node's defaults, deliberately: TERM and INT no longer exit at
 * once (they drain or stop the workers first), and USR1 no longer starts the inspector in the master
 * (it reopens logs, as ops scripts and logrotate expect).
 */
export const SIGNAL_EVENTS: Readonly<Record<string, (signal: NodeJS.Signals) => ArbiterEvent>> = {
  SIGTERM: (signal) => ({ type: 'stop', mode: 'graceful', requester: FROM_SIGNAL(signal) }),
  SIGINT: (signal) => ({ type: 'stop', mode: 'quick', requester: FROM_SIGNAL(signal) }),
  SIGQUIT: (signal) => ({ type: 'stop', mode: 'quick', requester: FROM_SIGNAL(signal) }),
  SIGHUP: (signal) => ({ type: 'reload', pool: null, requester: FROM_SIGNAL(signal) }),
  SIGTTIN: (signal) => ({ type: 'scale', pool: null, change: { relative: 1 }, requester: FROM_SIGNAL(signal) }),
  SIGTTOU: (signal) => ({ type: 'scale', pool: null, change: { relative: -1 }, requester: FROM_SIGNAL(signal) }),
  SIGUSR1: (signal) => ({ type: 'reopen-logs', requester: FROM_SIGNAL(signal) }),
  SIGUSR2: (signal) => ({ type: 'upgrade', retireOld: false, requester: FROM_SIGNAL(signal) }),
  SIGWINCH: (signal) => ({ type: 'stop-workers', requester: FROM_SIGNAL(signal) }),
};

export function installSignalHandlers(enqueue: (event: ArbiterEvent) => void): () => void {
  const installed: [NodeJS.Signals, () => void][] = [];
  for (const [name, toEvent] of Object.entries(SIGNAL_EVENTS)) {
    const signal = name as NodeJS.Signals;
    const listener = (): void => enqueue(toEvent(signal));
    process.on(signal, listener);
    installed.push([signal, listener]);
  }
  return () => {
    for (const [signal, listener] of installed) process.off(signal, listener);
  };
}
