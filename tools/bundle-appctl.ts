// Bundles the compiled appctl (dist/ctl/main.js and everything it imports, commander and msgpackr included)
// into one ESM file, dist/ctl/appctl.js, which package.json's bin runs. Run by `npm run build` after tsc.

import type { Plugin } from 'esbuild';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Packages the bundle loads from node_modules at run time, and only when the code that imports them runs:
 * blessed (top's full-screen dashboard) is about 50 CommonJS files with optional requires esbuild cannot
 * resolve, and esbuild hoists a plain external import to the top of the bundle, where `appctl status`
 * would load it. As a CommonJS module that only requires it, it loads when the dashboard's module does.
 */
const LOADED_AT_RUN_TIME = /^blessed$/;

const requireAtRunTime: Plugin = {
  name: 'require-at-run-time',
  setup(builder) {
    // The require() inside the stand-in module stays a require() of node_modules (first match wins).
    builder.onResolve({ filter: LOADED_AT_RUN_TIME, namespace: 'require-at-run-time' }, (args) => ({ path: args.path, external: true }));
    builder.onResolve({ filter: LOADED_AT_RUN_TIME }, (args) => ({ path: args.path, namespace: 'require-at-run-time' }));
    builder.onLoad({ filter: /.*/, namespace: 'require-at-run-time' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/** Builds the bundle; returns its path. */
export async function bundleAppctl(root = PROJECT_ROOT): Promise<string> {
  // A checkout that last ran `npm ci` before esbuild was a devDependency has none: say so, not a stack.
  const { build } = await import('esbuild').catch((error: unknown) => {
    throw new Error(`esbuild is not installed (a devDependency since appctl is bundled): run \`npm ci\` (${String(error)})`);
  });
  const outfile = `${root}dist/ctl/appctl.js`;
  await build({
    entryPoints: [`${root}dist/ctl/main.js`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // The bundle sits in dist/ctl/ like main.js, so shared/version.ts still finds ../../package.json, and
    // `require` (CommonJS code bundled into ESM: commander, and blessed above) resolves from there.
    banner: {
      js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);",
    },
    plugins: [requireAtRunTime],
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleAppctl().catch((error: unknown) => {
    process.stderr.write(`bundle-appctl: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
