// Bundles compiled entry points (each with everything it imports) into single CommonJS files, one per row
// of BUNDLES: appctl's bin and the HTTP worker's entry. Run by `npm run build` after tsc.

import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One bundle: what esbuild starts from and where the single file goes, both relative to the project root. */
export interface BundleEntry {
  /** The compiled entry point (tsc's output under dist/). */
  readonly entryPoint: string;
  /**
   * The bundle. It stays in the entry point's folder, so every `new URL('…', import.meta.url)` in the
   * bundled code (shared/version.ts's ../../package.json, the worker's watchdog-thread.js) still finds its file.
   */
  readonly outfile: string;
  /** Packages required from node_modules at run time instead of being bundled. */
  readonly external: readonly string[];
}

/** Every bundle `npm run build` makes. */
export const BUNDLES = {
  // CommonJS, not ESM: a CommonJS main file does not start Node's ESM loader, 15-18 ms of CPU of every
  // run (appctl status, median of 25 interleaved, Node 20 and 24).
  appctl: {
    entryPoint: 'dist/ctl/main.js',
    outfile: 'dist/ctl/appctl.cjs',
    // blessed (top's full-screen dashboard, ~50 files with optional requires esbuild cannot resolve) is
    // required from node_modules, inside the lazily evaluated module that uses it: only top loads it.
    external: ['blessed'],
  },
  // What the master forks for an HTTP worker serving an app module: one file instead of appd's ES modules.
  worker: {
    entryPoint: 'dist/daemon/worker/main.js',
    outfile: 'dist/daemon/worker/worker.cjs',
    external: [],
  },
} as const satisfies Record<string, BundleEntry>;

export type BundleName = keyof typeof BUNDLES;

/** Builds one bundle; returns its absolute path. */
export async function bundle(name: BundleName, root = PROJECT_ROOT): Promise<string> {
  // A checkout that last ran `npm ci` before esbuild was a devDependency has none: say so, not a stack.
  const { build } = await import('esbuild').catch((error: unknown) => {
    throw new Error(`esbuild is not installed (a devDependency since appctl is bundled): run \`npm ci\` (${String(error)})`);
  });
  const entry: BundleEntry = BUNDLES[name];
  const outfile = `${root}${entry.outfile}`;
  await build({
    entryPoints: [`${root}${entry.entryPoint}`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    // The bundle sits where its entry point was compiled, so the ES modules' own URL is the bundle's.
    banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': 'importMetaUrl' },
    external: [...entry.external],
  });
  return outfile;
}

/** Builds every bundle of the table, one after another (esbuild is fast; parallel runs gain nothing). */
export async function bundleAll(root = PROJECT_ROOT): Promise<string[]> {
  const built: string[] = [];
  for (const name of Object.keys(BUNDLES) as BundleName[]) built.push(await bundle(name, root));
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleAll().catch((error: unknown) => {
    process.stderr.write(`bundle: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
