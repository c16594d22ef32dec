// A limit on how many of one test file's tests run at once: ava starts all of a file's tests together,
// and a file whose every test starts a daemon with workers boots dozens of processes at one moment.
// Runs in the ava test process.

import type { ExecutionContext } from 'ava';

type Implementation<Context> = (t: ExecutionContext<Context>) => Promise<void>;

/**
 * Wraps test implementations so at most `count` of them run at once; the others wait their turn (in the
 * order ava started them). ava's own timeout restarts with each finished test, so a waiting test is
 * not charged for the time it waited. A slot is freed when the implementation ends; its teardowns
 * (a daemon's SIGKILL) run right after.
 */
export function atMostAtOnce(count: number): <Context>(implementation: Implementation<Context>) => Implementation<Context> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return (implementation) => async (t) => {
    // A freed slot is handed to the next waiting test directly, so running never goes above count.
    if (running < count) running += 1;
    else await new Promise<void>((settle) => waiting.push(settle));
    try {
      await implementation(t);
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}
