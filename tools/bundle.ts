// Bundles compiled entry points (each with everything it imports) into single CommonJS files, one per row
// of BUNDLES: appctl's bin, the master's bin and the HTTP worker's entry. Run by `npm run build` after tsc.

import type { Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One bundle: what esbuild starts from and where the single file goes, both relative to the project root. */
export interface BundleEntry {
  /** The compiled entry point (tsc's output under dist/). */
  readonly entryPoint: string;
  /**
   * The bundle. Each bundled module's import.meta.url stays its compiled file's URL (see moduleUrls), so
   * every `new URL('…', import.meta.url)` (shared/version.ts's ../../package.json, the worker's
   * watchdog-thread.js, the master's worker entry and listen helper) still finds its file under dist/.
   */
  readonly outfile: string;
  /** Packages required from node_modules at run time instead of being bundled. */
  readonly external: readonly string[];
  /**
   * Other rows whose entry point this bundle leaves out: its imports of that compiled file require the
   * other row's bundle at run time instead, through the code cache as the bin runs this one
   * (shared/compile-cache.ts). V8 parses a whole file before running any of it, so code that a run
   * rarely needs costs less in a file of its own.
   */
  readonly loadedApart?: readonly string[];
  /**
   * Whitespace and syntax minified (names kept, so stack traces still name functions, at line 1): a
   * shorter source string held in the heap for the process's life, and less code compiled from it.
   */
  readonly compact?: boolean;
}

/** Every bundle `npm run build` makes. */
export const BUNDLES = {
  // CommonJS, not ESM: a CommonJS main file does not start Node's ESM loader, 15-18 ms of CPU of every
  // run (appctl status, median of 25 interleaved, Node 20 and 24).
  // appctl's bin: runs appctl-main.cjs through V8's code cache (shared/compile-cache.ts), so it stays small.
  appctlBin: {
    entryPoint: 'dist/ctl/bin.js',
    outfile: 'dist/ctl/appctl.cjs',
    external: [],
    // Compiled from source on every run (it is what loads the cache): compact, 8.0 -> 6.3 KB to parse.
    compact: true,
  },
  appctl: {
    entryPoint: 'dist/ctl/main.js',
    outfile: 'dist/ctl/appctl-main.cjs',
    // blessed (top's full-screen dashboard, ~50 files with optional requires esbuild cannot resolve) is
    // required from node_modules, inside the lazily evaluated module that uses it: only top loads it.
    external: ['blessed'],
    // Everything but a plain `appctl status` (commander, help, the other subcommands): compiling it with
    // the rest cost appctl status 6-10 ms of CPU (median of 41 interleaved runs, Node 20 and 24).
    loadedApart: ['appctlProgram'],
    // Read and hashed by V8 on every run, cache or not: compact, 72 -> 51 KB. With the bin's, the lazy
    // cache directory and the plain status's exit without closing, appctl status gained 0.75 ms at the
    // 10th percentile and 1.4 ms at the median (100 interleaved runs, Node 20).
    compact: true,
  },
  appctlProgram: {
    entryPoint: 'dist/ctl/program.js',
    outfile: 'dist/ctl/appctl-program.cjs',
    external: ['blessed'],
    compact: true,
  },
  // The master (package.json's bin `appd`, the systemd units, the tests and the bench). CommonJS: an idle
  // master with 2 workers as appd's ~140 ES modules had 59.0 MB RSS on Node 20 and 67.6 MB on Node 24, as
  // this bundle 50.1 and 57.2 (node:cluster primary 43.7 and 48.5; median of 5 interleaved starts): the ES
  // loader's own code and data, a bigger new space, and each module's record and compiled code.
  appd: {
    entryPoint: 'dist/daemon/main.js',
    outfile: 'dist/daemon/appd.cjs',
    // commander runs only for --help, --version and unusual command lines (cli-arguments.ts reads the
    // plain ones): required from node_modules then, its 54 KB of source are not in every master's heap.
    external: ['commander'],
    // The master lives for months: compact, 592 -> 400 KB of source, idle RSS 50.1 -> 49.1 MB on Node 20
    // (57.2 -> 56.8 on Node 24), median of 5 interleaved starts.
    compact: true,
  },
  // What the master forks for an HTTP worker serving an app module: runs worker.cjs through V8's code cache.
  workerBin: {
    entryPoint: 'dist/daemon/worker/bin.js',
    outfile: 'dist/daemon/worker/worker-bin.cjs',
    external: [],
  },
  // The HTTP worker's runtime: one file instead of appd's ES modules.
  worker: {
    entryPoint: 'dist/daemon/worker/main.js',
    outfile: 'dist/daemon/worker/worker.cjs',
    external: [],
  },
  // Preloaded with node --require before a --script worker's script: a CommonJS file runs before Node's ES
  // module loader, which the --import preload and an ES script start (memory-reducer.ts says why it must).
  memoryReducer: {
    entryPoint: 'dist/daemon/worker/memory-reducer.js',
    outfile: 'dist/daemon/worker/memory-reducer.cjs',
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
    minifyWhitespace: entry.compact === true,
    minifySyntax: entry.compact === true,
    // 'use strict' first: the ES modules tsc compiles are strict, and esbuild's own directive lands after
    // the banner, where it is a plain string and the bundle would run in sloppy mode (assignments to
    // read-only properties silently ignored instead of thrown, as they were before bundling).
    // Each module's import.meta.url is its compiled file's (which tsc left beside the bundle), not the
    // bundle's: the master's modules sit in many folders and resolve files relative to their own.
    banner: {
      js: "'use strict';\nconst bundledModuleUrl = (path) => require('node:url').pathToFileURL(require('node:path').join(__dirname, path)).href;",
    },
    plugins: [moduleUrls(dirname(outfile)), ...(entry.loadedApart === undefined ? [] : [loadApart(entry.loadedApart, outfile, root)])],
    external: [...entry.external],
    // A linked map (name.cjs.map, not packed) that leads back through tsc's maps to the TypeScript: stack
    // traces under --enable-source-maps name appd's sources, as they did from the ES modules. Node reads
    // the map only with that flag.
    sourcemap: 'linked',
  });
  return outfile;
}

/** An esbuild plugin writing each compiled module's import.meta.url as its path relative to the bundle's folder. */
function moduleUrls(bundleDirectory: string): Plugin {
  return {
    name: 'module-urls',
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, async ({ path }) => {
        const text = await readFile(path, 'utf8');
        if (!text.includes('import.meta.url')) return { contents: text, loader: 'js' };
        const url = `bundledModuleUrl(${JSON.stringify(relative(bundleDirectory, path))})`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
      });
    },
  };
}

/**
 * Each import of a `rows` entry point becomes a module holding only a requireCachedBundle of that row's
 * bundle: esbuild evaluates it when the import runs, as it does a bundled module, and the file runs as
 * CommonJS through the code cache, not as an ES module (an import() of a file would start the ESM loader).
 */
function loadApart(rows: readonly string[], outfile: string, root: string): Plugin {
  const namespace = 'loaded-apart';
  const compileCache = resolve(root, 'dist/shared/compile-cache.js');
  const requirePaths = new Map<string, string>();
  for (const row of rows) {
    if (!Object.hasOwn(BUNDLES, row)) throw new Error(`loadedApart names ${row}, which is no row of BUNDLES`);
    const entry: BundleEntry = BUNDLES[row as BundleName];
    requirePaths.set(resolve(root, entry.entryPoint), `./${relative(dirname(outfile), resolve(root, entry.outfile))}`);
  }
  return {
    name: namespace,
    setup(build) {
      build.onResolve({ filter: /^\./ }, (args) => {
        if (args.namespace === namespace) return { path: args.path, external: true };
        const requirePath = requirePaths.get(resolve(args.resolveDir, args.path));
        return requirePath === undefined ? undefined : { path: requirePath, namespace };
      });
      // Through the code cache, as the bin runs the bundle that requires it (shared/compile-cache.ts).
      build.onLoad({ filter: /.*/, namespace }, (args) => ({
        contents: [
          `const { requireCachedBundle } = require(${JSON.stringify(compileCache)});`,
          `module.exports = requireCachedBundle(require('node:path').join(__dirname, ${JSON.stringify(args.path)}), ${JSON.stringify(cacheLabel(args.path))}, require);`,
        ].join('\n'),
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/** The code cache's label of a bundle loaded apart: its file name without .cjs (./appctl-program.cjs: appctl-program). */
function cacheLabel(requirePath: string): string {
  return basename(requirePath, '.cjs');
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
