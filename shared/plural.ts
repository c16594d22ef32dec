// A count with its noun in the right number ("1 worker", "2 workers"), for messages people read.
// Used by the appd master and by appctl.

/** `count` and `noun`, plural unless the count is exactly 1; `plural` for nouns that are not noun + "s". */
export function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
