// Turns each control request into the arbiter event that carries it out: one entry per command, so a
// command added to the protocol does not compile until it is wired. Run by the appd master.

import type { Command, Request, RequestOf } from '../../shared/control/protocol.js';
import type { ArbiterEvent, EventReader, LogReader, Requester, StatusWatcher } from '../arbiter/events.js';

export interface RequestContext {
  readonly requester: Requester;
  /** Makes the reader that streams log lines back to this client. */
  readonly logReader: (request: RequestOf<'logs'>) => LogReader;
  /** Makes the reader that streams worker events back to this client. */
  readonly eventReader: () => EventReader;
  /** Makes the watcher that streams status snapshots back to this client. */
  readonly statusWatcher: () => StatusWatcher;
}

const TO_EVENT: { readonly [C in Command]: (request: RequestOf<C>, context: RequestContext) => ArbiterEvent } = {
  ping: (_request, { requester }) => ({ type: 'ping', requester }),
  status: (_request, { requester }) => ({ type: 'status', requester }),
  config: (_request, { requester }) => ({ type: 'show-config', requester }),
  scale: ({ pool, change }, { requester }) => ({ type: 'scale', pool, change, requester }),
  // The same event SIGHUP enqueues: one reload path, whoever asks.
  reload: ({ pool }, { requester }) => ({ type: 'reload', pool, requester }),
  restart: ({ pool, slot }, { requester }) => ({ type: 'restart', pool, slot, requester }),
  'stop-pool': ({ pool }, { requester }) => ({ type: 'stop-pool', pool, requester }),
  'start-pool': ({ pool }, { requester }) => ({ type: 'start-pool', pool, requester }),
  // Unlike USR2, appctl upgrade finishes the job: the old master drains and exits once the new one is ready.
  upgrade: (_request, { requester }) => ({ type: 'upgrade', retireOld: true, requester }),
  stop: ({ mode }, { requester }) => ({ type: 'stop', mode, requester }),
  logs: (request, { requester, logReader }) => ({ type: 'read-logs', reader: logReader(request), requester }),
  events: (_request, { requester, eventReader }) => ({ type: 'watch-events', reader: eventReader(), requester }),
  watch: (_request, { requester, statusWatcher }) => ({ type: 'watch-status', watcher: statusWatcher(), requester }),
};

export function eventForRequest(request: Request, context: RequestContext): ArbiterEvent {
  return (TO_EVENT[request.command] as (request: Request, context: RequestContext) => ArbiterEvent)(request, context);
}
