// Sets V8 flags in the running master, by the cheapest way each Node version offers: node:v8 where it
// comes cheaply, Node's internal binding on Node 20. Run by the appd master.

import { nodeBinding } from '../../shared/node-binding.js';

const FIRST_V8_WITH_MAGLEV = 12;

/**
 * V8 12 (Node 22) and later, which differ from Node 20's V8 11 in three ways the master relies on: Maglev
 * exists (optimizing-compilers.ts), node:v8 loads cheaply, and gc() takes {flavor: 'last-resort'}
 * (heap-compaction.ts).
 */
export const MODERN_V8 = Number(process.versions.v8.split('.')[0]) >= FIRST_V8_WITH_MAGLEV;

/** The one function of Node's internal v8 binding used here (the same one node:v8 calls). */
interface V8Binding {
  setFlagsFromString(flags: string): void;
}

/** False when this Node offers no way to set them (Node 22.0-22.2: no process.getBuiltinModule). */
export function setV8Flags(flags: string): boolean {
  if (MODERN_V8) {
    const v8 = process.getBuiltinModule?.('node:v8');
    v8?.setFlagsFromString(flags);
    return v8 !== undefined;
  }
  // Node 20 (V8 11): the internal binding through process.binding, because loading node:v8 costs Node 20's
  // master 0.4 MB RSS (median of 7 starts). Only here: Node 22 and later give node:v8 cheaply, and Node 24
  // no longer lets process.binding reach v8. Node 20 warns at run time about any process.binding('v8')
  // (DEP0111): nodeBinding holds that warning back.
  const binding = nodeBinding<V8Binding>('v8');
  binding?.setFlagsFromString(flags);
  return binding !== null;
}
