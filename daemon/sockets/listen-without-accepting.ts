// Puts the master's sockets into the listening state from the moment they are bound (DESIGN §16), with
// each pool's backlog, without the master ever accepting: listen-helper.js does it in a child process.
// Run by the appd master (at start, on reload, for slot sockets, in an upgrade's successor).
//
// Why: a bound socket that does not listen refuses connections (ECONNREFUSED) until a worker listens;
// a listening one queues them in the kernel while workers boot, while WINCH has parked every worker,
// while a command pool restarts; and sd_listen_fds programs expect a listening socket, as systemd gives.
// Cost: one short-lived node process per batch of sockets (measured in README "Fault injection").

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BindError } from '../../shared/errors.js';
import type { Config } from '../../shared/settings/table.js';
import { poolSettingsFromConfig } from '../pools/pool.js';
import { setDescriptorBlocking } from './server-handle.js';
import type { Listener } from './listeners.js';

const HELPER = fileURLToPath(new URL('./listen-helper.js', import.meta.url));
/** Enough for a node start on a machine under heavy load; a helper that takes longer is killed. */
const HELPER_TIMEOUT_MS = 30_000;

/** How a socket listens: its pool's backlog, and blocking for command pools. */
export interface ListenMode {
  readonly backlog: number;
  /**
   * systemd hands sockets over in blocking mode (NonBlocking=no, its default), and an sd_listen_fds
   * program that calls accept() on one in non-blocking mode fails with EAGAIN; Node workers set
   * non-blocking mode themselves. O_NONBLOCK belongs to the socket, shared by all who hold it.
   */
  readonly blocking: boolean;
}

/** Each pool's listen mode (null: the single-app form's global binds and unclaimed systemd sockets). */
export function listenModesOf(config: Config): (pool: string | null) => ListenMode {
  const modes = new Map(
    poolSettingsFromConfig(config).map((pool) => [pool.name, { backlog: pool.backlog, blocking: pool.kind === 'command' }]),
  );
  const global: ListenMode = { backlog: config.backlog, blocking: false };
  return (pool) => (pool === null ? global : (modes.get(pool) ?? global));
}

/** The mode each listener was last put into by this master (a reload that changes it listens again). */
const applied = new WeakMap<Listener['handle'], ListenMode>();

function sameMode(left: ListenMode | undefined, right: ListenMode): boolean {
  return left !== undefined && left.backlog === right.backlog && left.blocking === right.blocking;
}

function runHelper(listeners: readonly Listener[], modes: readonly ListenMode[]): Promise<void> {
  return new Promise((settle, fail) => {
    // A clean environment: NODE_OPTIONS (--require, --import) must not run code beside the sockets.
    const helper = spawn(process.execPath, ['--title=appd: listen helper', HELPER, ...modes.map((mode) => String(mode.backlog))], {
      stdio: ['ignore', 'ignore', 'pipe', ...listeners.map((listener) => listener.fd)],
      env: {},
      timeout: HELPER_TIMEOUT_MS,
    });
    let said = '';
    helper.stderr?.setEncoding('utf8').on('data', (text: string) => (said = (said + text).slice(-1000)));
    helper.once('error', (error) =>
      fail(
        new BindError(
          `cannot listen on ${listeners.map((listener) => listener.url).join(', ')}: the listen helper did not start (${error.message})`,
        ),
      ),
    );
    helper.once('close', (code, signal) => {
      if (code === 0) return settle();
      const descriptor = /^fd (\d+): (\S+)/.exec(said);
      const culprit = descriptor ? listeners[Number(descriptor[1]) - 3] : undefined;
      const what = culprit ? culprit.url : listeners.map((listener) => listener.url).join(', ');
      const why = descriptor
        ? descriptor[2]
        : signal
          ? `the listen helper was killed by ${signal}`
          : `the listen helper exited with ${code}: ${said.trim()}`;
      fail(new BindError(`cannot listen on ${what}: ${why}`));
    });
  });
}

/**
 * Makes every listener listen in its pool's mode (those already in it are left alone). Throws a
 * BindError naming the socket if listen() fails; the sockets stay bound, as before.
 */
export async function listenWithoutAccepting(listeners: readonly Listener[], modeOf: (pool: string | null) => ListenMode): Promise<void> {
  const due = listeners.filter((listener) => !sameMode(applied.get(listener.handle), modeOf(listener.pool)));
  if (due.length === 0) return;
  const modes = due.map((listener) => modeOf(listener.pool));
  await runHelper(due, modes);
  for (const [index, listener] of due.entries()) {
    const mode = modes[index] as ListenMode;
    // After the helper: Node set the socket non-blocking when it opened its copy of the descriptor.
    setDescriptorBlocking(listener.handle, mode.blocking);
    applied.set(listener.handle, mode);
  }
}
