// The control-plane rows: `appctl status` vs `pm2 jlist` (whole-process wall time), spawn to ready for
// one worker (appd's TTIN vs a bare node process until it accepts), and `appctl scale +4` vs
// `pm2 scale +4`. A command appd does not have yet is reported with its own message. Runs in the
// bench process.

import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../../helpers/processes.js';
import { APPCTL, type AppdContender } from '../contenders/appd.js';
import { BENCH_FIXTURES, PROJECT_ROOT, freePort, spawnServer, stopGroup } from '../contenders/contender.js';
import { PM2_APP_NAME, type Pm2Contender } from '../contenders/pm2.js';
import { round, type QuietGate } from '../quiet-machine.js';
import { encodeFrame } from '../../../shared/control/frame-codec.js';
import { PROTOCOL_VERSION } from '../../../shared/control/protocol.js';
import { cleanEnvironment, lastLine, runCommand, type CommandResult } from '../run-command.js';
import { median } from '../statistics.js';

/**
 * Timings of one contender's command; `failure` says why there are none. The best of N is what the table
 * compares: on a shared machine other processes only ever add time to a short command.
 */
export interface Timings {
  readonly samplesMs: readonly number[];
  readonly bestMs: number;
  readonly medianMs: number;
  readonly failure: string | null;
}

/** The status row's commands; connectOnly is missing from results saved before it was measured. */
export interface StatusTimings {
  readonly appd: Timings;
  readonly bareNode: Timings;
  readonly connectOnly?: Timings;
  readonly pm2: Timings | null;
}

function timings(samplesMs: readonly number[], failure: string | null = null): Timings {
  return {
    samplesMs: samplesMs.map((value) => round(value, 1)),
    bestMs: samplesMs.length === 0 ? Number.NaN : round(Math.min(...samplesMs), 1),
    medianMs: round(median(samplesMs), 1),
    failure,
  };
}

/** Checks the source too: a dist/ctl left by a build of another branch must not count. */
export function appctlMissing(): string | null {
  return existsSync(APPCTL) && existsSync(join(PROJECT_ROOT, 'ctl', 'main.ts'))
    ? null
    : 'not available yet: appctl (issue 3) is not on main';
}

function commandFailure(what: string, result: CommandResult): string | null {
  return result.code === 0 ? null : `${what} failed: ${lastLine(result)}`;
}

/**
 * appctl's hello and a status request, as appctl sends them (one write): what connect-only-client.cjs
 * sends without encoding anything.
 */
function statusRequestBytes(): string {
  const hello = encodeFrame({ type: 'hello', protocol: PROTOCOL_VERSION, client: 'appctl', pid: process.pid });
  const request = encodeFrame({ type: 'request', id: 'bench-status-request1', request: { command: 'status' } });
  return Buffer.concat([hello, request]).toString('hex');
}

/**
 * appctl status, `node -e 0` (what any node command costs at least: the baseline of the target), a client
 * that only connects and exchanges prebuilt frames (what any Node client of the socket costs at least:
 * node:net, a connection, the daemon's answer) and pm2 jlist, alternating, each run a whole process from
 * spawn to exit.
 */
export async function measureStatus(
  appd: AppdContender,
  pm2: Pm2Contender | null,
  repeats: number,
  gate: QuietGate,
): Promise<StatusTimings> {
  const appdSamples: number[] = [];
  const bareNodeSamples: number[] = [];
  const connectOnlySamples: number[] = [];
  const pm2Samples: number[] = [];
  let appdFailure = appctlMissing();
  let bareNodeFailure: string | null = null;
  let connectOnlyFailure: string | null = null;
  let pm2Failure: string | null = null;
  const connectOnly = [join(BENCH_FIXTURES, 'connect-only-client.cjs'), appd.controlSocket, statusRequestBytes()];
  for (let index = 0; index < repeats; index += 1) {
    await gate.wait();
    if (bareNodeFailure === null) {
      const result = await runCommand(process.execPath, ['-e', '0'], { timeoutMs: 30_000 });
      bareNodeFailure = commandFailure('node -e 0', result);
      if (bareNodeFailure === null) bareNodeSamples.push(result.wallMs);
    }
    if (appdFailure === null) {
      const result = await appd.appctl(['status'], 30_000);
      appdFailure = commandFailure('appctl status', result);
      if (appdFailure === null) appdSamples.push(result.wallMs);
    }
    if (connectOnlyFailure === null) {
      const result = await runCommand(process.execPath, connectOnly, { timeoutMs: 30_000 });
      connectOnlyFailure = commandFailure('the connect-only client', result);
      if (connectOnlyFailure === null) connectOnlySamples.push(result.wallMs);
    }
    if (pm2 !== null && pm2Failure === null) {
      const result = await pm2.pm2(['jlist'], 30_000);
      pm2Failure = commandFailure('pm2 jlist', result);
      if (pm2Failure === null) pm2Samples.push(result.wallMs);
    }
  }
  return {
    appd: timings(appdSamples, appdFailure),
    bareNode: timings(bareNodeSamples, bareNodeFailure),
    connectOnly: timings(connectOnlySamples, connectOnlyFailure),
    pm2: pm2 === null ? null : timings(pm2Samples, pm2Failure),
  };
}

/** Spawns of each kind in the spawn row (each about 40 ms). */
export const SPAWN_REPEATS = 11;

/** What the spawn row measured, in the results file. */
export interface SpawnTimings {
  readonly appdMasterMs: Timings;
  readonly appdSignalToLogMs: Timings;
  readonly bareNodeMs: Timings;
}

/**
 * Spawn to ready of one appd worker and of a bare node server, taking turns: the host's speed drifts
 * over a run (its CPU per request rose from 16 to 30 µs across one 31-round bench), and measured one
 * after the other, five of each, the same appd build came out at 0.95x and at 1.37x of bare node.
 */
export async function measureSpawnToReady(
  appd: AppdContender,
  scratch: string,
  workers: number,
  repeats: number,
  gate: QuietGate,
): Promise<SpawnTimings> {
  const masterSamples: number[] = [];
  const externalSamples: number[] = [];
  const bareSamples: number[] = [];
  for (let index = 0; index < repeats; index += 1) {
    // Alternating which goes first, so neither always runs just after the other's process exits.
    const appdFirst = index % 2 === 0;
    if (!appdFirst) bareSamples.push(await spawnBareNode(scratch, gate));
    const { masterMs, signalToLogMs } = await spawnAppdWorker(appd, workers, gate);
    masterSamples.push(masterMs);
    externalSamples.push(signalToLogMs);
    if (appdFirst) bareSamples.push(await spawnBareNode(scratch, gate));
  }
  return { appdMasterMs: timings(masterSamples), appdSignalToLogMs: timings(externalSamples), bareNodeMs: timings(bareSamples) };
}

/** TTIN adds one worker; the master logs "worker web.2 g1 (pid N) ready in 61ms" (spawn to ready, its own clock). Then TTOU. */
async function spawnAppdWorker(
  appd: AppdContender,
  workers: number,
  gate: QuietGate,
): Promise<{ masterMs: number; signalToLogMs: number }> {
  await gate.wait();
  const from = appd.output().length;
  const startedAt = performance.now();
  appd.signal('SIGTTIN');
  const line = await appd.waitForLog(new RegExp(`worker web\\.${workers} g\\d+ \\(pid \\d+\\) ready in (\\d+)ms`), from, 30_000);
  const signalToLogMs = performance.now() - startedAt;
  appd.signal('SIGTTOU');
  await waitFor(`appd back to ${workers} workers`, () => appd.workerPids().length === workers, 30_000, 10);
  return { masterMs: Number(line[1]), signalToLogMs };
}

/** A bare `node hello-server.cjs`: spawn until its port accepts a connection. */
async function spawnBareNode(scratch: string, gate: QuietGate): Promise<number> {
  await gate.wait();
  const port = await freePort();
  const startedAt = performance.now();
  const server = spawnServer(
    process.execPath,
    [join(BENCH_FIXTURES, 'hello-server.cjs')],
    cleanEnvironment({ PORT: String(port) }),
    scratch,
  );
  try {
    await waitFor('bare node to accept', () => connects(port), 30_000, 2);
    return performance.now() - startedAt;
  } finally {
    await stopGroup(server.pid, server.pid, []);
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      settle(true);
    });
    socket.once('error', () => settle(false)); // refused: not listening yet, the caller polls again
  });
}

/** `appctl scale +4` (it returns once the new workers are ready) and back; `pm2 scale +4` and back. */
export async function measureScale(
  appd: AppdContender,
  pm2: Pm2Contender | null,
  workers: number,
  repeats: number,
  gate: QuietGate,
): Promise<{ appd: Timings; pm2: Timings | null }> {
  const appdSamples: number[] = [];
  const pm2Samples: number[] = [];
  let appdFailure = appctlMissing();
  let pm2Failure: string | null = null;
  for (let index = 0; index < repeats; index += 1) {
    if (appdFailure === null) {
      await gate.wait();
      const result = await appd.appctl(['scale', '+4'], 60_000);
      appdFailure = commandFailure('appctl scale +4', result);
      if (appdFailure === null) appdSamples.push(result.wallMs);
      const back = await appd.appctl(['scale', String(workers)], 60_000);
      appdFailure ??= commandFailure(`appctl scale ${workers}`, back);
      await waitFor(`appd back to ${workers} workers`, () => appd.workerPids().length === workers, 30_000, 10);
    }
    if (pm2 !== null && pm2Failure === null) {
      await gate.wait();
      const result = await pm2.pm2(['scale', PM2_APP_NAME, '+4'], 60_000);
      pm2Failure = commandFailure('pm2 scale +4', result);
      if (pm2Failure === null) pm2Samples.push(result.wallMs);
      pm2.remember();
      const back = await pm2.pm2(['scale', PM2_APP_NAME, String(workers)], 60_000);
      pm2Failure ??= commandFailure(`pm2 scale ${workers}`, back);
      await waitFor(`pm2 back to ${workers} workers`, () => pm2.workerPids().length === workers, 30_000, 10);
    }
  }
  return { appd: timings(appdSamples, appdFailure), pm2: pm2 === null ? null : timings(pm2Samples, pm2Failure) };
}
