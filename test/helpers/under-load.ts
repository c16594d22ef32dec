// Runs a test's operation (reloads, upgrades) while keep-alive and HTTP/1.0 load clients hammer the
// daemon, and returns every count: no retries, every failed request counted. Runs in the ava test process.

import type { ExecutionContext } from 'ava';
import { describeLoad, runLoad, type LoadResponse, type LoadResult } from './load-client.js';
import { sleep } from './processes.js';

export interface UnderLoadResult<T> {
  readonly value: T;
  readonly keepAlive: LoadResult;
  readonly close: LoadResult;
  /** What the responses said, counted (e.g. "generation=2" -> 312). */
  readonly seen: ReadonlyMap<string, number>;
}

export interface UnderLoadOptions {
  /** Loops per client kind; both kinds run at once. */
  readonly concurrency?: number;
  /** Load before and after the operation, so it starts and ends under traffic. */
  readonly settleMs?: number;
  /** Counts responses by what this pattern captures in the body. */
  readonly classify?: RegExp;
}

/** Runs `operation` under load; the load stops once it returned (or threw) and settleMs passed. */
export async function underLoad<T>(url: string, operation: () => Promise<T>, options: UnderLoadOptions = {}): Promise<UnderLoadResult<T>> {
  const stop = new AbortController();
  const seen = new Map<string, number>();
  const onResponse = (response: LoadResponse): void => {
    const key = options.classify?.exec(response.body)?.[1];
    if (key !== undefined) seen.set(key, (seen.get(key) ?? 0) + 1);
  };
  const common = { url, concurrency: options.concurrency ?? 6, durationMs: 120_000, signal: stop.signal, onResponse };
  const loads = Promise.all([runLoad({ ...common, mode: 'keep-alive' }), runLoad({ ...common, mode: 'close' })]);
  const settle = options.settleMs ?? 300;
  let value: T;
  try {
    await sleep(settle);
    value = await operation();
    await sleep(settle);
  } finally {
    stop.abort();
  }
  const [keepAlive, close] = await loads;
  return { value, keepAlive, close, seen };
}

/** Logs both clients' counts and asserts that neither lost a request. */
export function assertNoFailures(t: ExecutionContext, result: UnderLoadResult<unknown>, what: string): void {
  t.log(`${what}: keep-alive ${describeLoad(result.keepAlive)}; HTTP/1.0 ${describeLoad(result.close)}`);
  for (const [kind, counts] of [
    ['keep-alive', result.keepAlive],
    ['HTTP/1.0', result.close],
  ] as const) {
    t.is(counts.failed, 0, `${kind} client: ${JSON.stringify(counts.errors)} ${counts.samples.join(' | ')}`);
    t.true(counts.ok > 0, `${kind} client got answers`);
  }
}
