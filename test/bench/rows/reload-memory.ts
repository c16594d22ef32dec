// The "flat over 1,000 reloads" row: a fresh appd (1 worker) reloaded N times over its control socket,
// one reload at a time, its master's RSS read every 10 reloads. RSS saws up and down by 5-10 MB over a
// few hundred reloads as V8's heap fills and is collected, so it compares the lowest reading (just after
// a collection) of the first half with that of the second half, after the first 100 reloads (caches,
// compiled code). Runs in the bench process.

import { RawControlClient, HELLO } from '../../helpers/control-socket.js';
import { sleep } from '../../helpers/processes.js';
import { AppdContender } from '../contenders/appd.js';
import { rssKilobytes } from '../proc-usage.js';

export interface ReloadMemorySettings {
  readonly scratch: string;
  readonly extraArgs: readonly string[];
  readonly reloads: number;
  /** No reload starts after this long (one under way may take RELOAD_TIMEOUT_MS more); the row says how many were done. */
  readonly timeLimitSeconds: number;
}

export interface ReloadMemoryMeasurement {
  readonly reloadsAsked: number;
  readonly reloadsDone: number;
  readonly seconds: number;
  /** [reloads done, master RSS in KB]: before the first, then every READ_EVERY. */
  readonly samples: readonly (readonly [number, number])[];
  /** The lowest RSS (KB) of the first and of the second half of the readings after WARM_UP reloads (null: too few). */
  readonly halves: { readonly first: number; readonly second: number } | null;
  /** The second half's low minus the first's (KB; null: too few readings). */
  readonly growthKilobytes: number | null;
  /** Why it stopped before reloadsAsked (time limit, a reload that did not complete), or null. */
  readonly stoppedBecause: string | null;
}

const READ_EVERY = 10;
/** The first reloads fill caches and V8's code space; the comparison starts after them. */
const WARM_UP = 100;
const RELOAD_TIMEOUT_MS = 60_000;

/** The lowest reading of the first and of the second half of the readings taken after `warmUp` reloads; null with fewer than 4. */
export function lowsOfHalves(samples: readonly (readonly [number, number])[], warmUp: number): { first: number; second: number } | null {
  const counted = samples.filter(([reloads]) => reloads > warmUp);
  if (counted.length < 4) return null;
  const middle = Math.floor(counted.length / 2);
  const low = (part: readonly (readonly [number, number])[]): number => Math.min(...part.map(([, kilobytes]) => kilobytes));
  return {
    first: low(counted.slice(0, middle)),
    second: low(counted.slice(middle)),
  };
}

export async function measureReloadMemory(settings: ReloadMemorySettings, log: (line: string) => void): Promise<ReloadMemoryMeasurement> {
  const appd = await AppdContender.start({ scratch: settings.scratch, workers: 1, extraArgs: settings.extraArgs });
  const client = await RawControlClient.connect(appd.controlSocket);
  // The time limit on the monotonic clock: a wall clock stepped by NTP would cut the run short or stretch it.
  const startedAt = performance.now();
  const samples: [number, number][] = [];
  let done = 0;
  let stoppedBecause: string | null = null;
  const read = (): void => {
    const rss = rssKilobytes(appd.masterPid());
    if (rss !== null) samples.push([done, rss]);
  };
  try {
    client.send(HELLO);
    // As the idle memory row does: the fresh pool's first heartbeats come in before the first reading.
    await sleep(1500);
    read();
    while (done < settings.reloads) {
      if (performance.now() - startedAt > settings.timeLimitSeconds * 1000) {
        stoppedBecause = `time limit of ${settings.timeLimitSeconds} s (BENCH_RELOAD_SECONDS) reached`;
        break;
      }
      const id = `reload-${done + 1}`;
      client.send({ type: 'request', id, request: { command: 'reload', pool: null } });
      let reply: Record<string, unknown> | null;
      try {
        reply = await client.waitFor((message) => message['type'] === 'reply' && message['id'] === id, RELOAD_TIMEOUT_MS);
      } catch {
        // waitFor throws on its timeout: the readings so far are kept, and the row says where it stopped.
        stoppedBecause = `reload ${done + 1} got no reply within ${RELOAD_TIMEOUT_MS / 1000} s`;
        break;
      }
      // Only the reply is kept: a thousand of them would otherwise stay in the client's list.
      client.messages.length = 0;
      const outcome = (reply?.['outcome'] as { status?: string } | undefined)?.status;
      if (outcome !== 'completed') {
        stoppedBecause = `reload ${done + 1} ended ${reply === null ? 'with the connection closed' : `as ${JSON.stringify(outcome ?? reply)}`}`;
        break;
      }
      done += 1;
      if (done % READ_EVERY === 0) read();
      if (done % 100 === 0) log(`reloads: ${done} of ${settings.reloads}, master RSS ${((samples.at(-1)?.[1] ?? 0) / 1024).toFixed(1)} MB`);
    }
  } finally {
    client.destroy();
    await appd.stop();
  }
  const halves = lowsOfHalves(samples, WARM_UP);
  return {
    reloadsAsked: settings.reloads,
    reloadsDone: done,
    seconds: Math.round((performance.now() - startedAt) / 100) / 10,
    samples,
    halves,
    growthKilobytes: halves === null ? null : halves.second - halves.first,
    stoppedBecause,
  };
}
