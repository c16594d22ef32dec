// Which lines of the master's log ring `appctl logs POOL` and `appctl logs POOL.SLOT` ask for: a pool's
// workers' output, or one slot's output (every generation) and the master's lines about that slot.
// Used by the appd master when it answers a logs request.

export type LogSelector =
  | { readonly kind: 'all' }
  | { readonly kind: 'pool'; readonly pool: string }
  | { readonly kind: 'slot'; readonly pool: string; readonly slot: number };

/**
 * "web" is a pool, "web.1" slot 1 of pool web, unless a pool is named "web.1" itself (names may hold
 * dots). Null when no pool fits.
 */
export function parseLogSelector(text: string | null, hasPool: (name: string) => boolean): LogSelector | null {
  if (text === null) return { kind: 'all' };
  if (hasPool(text)) return { kind: 'pool', pool: text };
  const slot = /^(.+)\.(\d{1,6})$/.exec(text);
  if (slot?.[1] !== undefined && hasPool(slot[1])) return { kind: 'slot', pool: slot[1], slot: Number(slot[2]) };
  return null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a line of the ring belongs to the selection (a worker's lines have source "web.1 g2"). */
export function lineSelector(selector: LogSelector): (line: { readonly source: string; readonly text: string }) => boolean {
  if (selector.kind === 'all') return () => true;
  if (selector.kind === 'pool') {
    const prefix = `${selector.pool}.`;
    return (line) => line.source.startsWith(prefix);
  }
  const name = `${selector.pool}.${selector.slot}`;
  // "worker web.1 g2 (pid 7) ready", "slot web.1 failed to start": the name, not web.10 or xweb.1.
  const mentioned = new RegExp(`(^|[^\\w.-])${escapeRegExp(name)}([^\\w-]|$)`);
  return (line) => line.source.startsWith(`${name} `) || (line.source === 'master' && mentioned.test(line.text));
}
