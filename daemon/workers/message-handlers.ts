// What each message from a worker does to its handle: one typed handler per message type, so a message
// type without a handler does not compile. Run by the appd master, inside the arbiter loop.

import type { WorkerToMaster } from '../contracts/worker-messages.js';
import type { Logger } from '../master/logger.js';
import type { WorkerHandle } from './handle.js';

type MessageType = WorkerToMaster['type'];
type MessageOf<Type extends MessageType> = Extract<WorkerToMaster, { type: Type }>;
type Handler<Message> = (worker: WorkerHandle, message: Message, now: number, logger: Logger) => void;

const HANDLERS: { readonly [Type in MessageType]: Handler<MessageOf<Type>> } = {
  ready: (worker, _message, now, logger) => {
    const wasStarting = worker.state === 'starting';
    worker.transition('became-ready', { at: now });
    if (wasStarting) logger.info(`worker ${worker.label} ready in ${Math.round(now - worker.spawnedAt)}ms`);
  },
  'boot-error': (worker, { phase, message, code }) =>
    worker.transition('boot-error', { report: code === undefined ? { phase, message } : { phase, message, code } }),
  heartbeat: (worker, { stats }, now) => worker.transition('heartbeat', { at: now, stats }),
  draining: (worker, _message, now) => worker.transition('draining', { at: now }),
  'released-slot': (worker, _message, now) => worker.transition('released-slot', { at: now }),
  recycle: (worker, { reason }, _now, logger) => {
    // Only the first request counts: a worker may ask again before its replacement is ready.
    if (worker.recycleReason !== null) return;
    worker.transition('recycle-requested', { reason, cause: 'max_requests' });
    logger.info(`worker ${worker.label} asks to be replaced: ${reason}`);
  },
};

/** Applies one message (already parsed and validated by the worker channel) to the worker's handle. */
export function applyWorkerMessage(worker: WorkerHandle, message: WorkerToMaster, now: number, logger: Logger): void {
  (HANDLERS[message.type] as Handler<WorkerToMaster>)(worker, message, now, logger);
}
