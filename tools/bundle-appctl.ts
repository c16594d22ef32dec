// Bundles the compiled appctl (dist/ctl/main.js and everything it imports, commander included) into one
// CommonJS file, dist/ctl/appctl.cjs, which package.json's bin runs. Run by `npm run build` after tsc.

import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the bundle; returns its path. */
export async function bundleAppctl(root = PROJECT_ROOT): Promise<string> {
  // A checkout that last ran `npm ci` before esbuild was a devDependency has none: say so, not a stack.
  const { build } = await import('esbuild').catch((error: unknown) => {
    throw new Error(`esbuild is not installed (a devDependency since appctl is bundled): run \`npm ci\` (${String(error)})`);
  });
  const outfile = `${root}dist/ctl/appctl.cjs`;
  await build({
    entryPoints: [`${root}dist/ctl/main.js`],
    outfile,
    bundle: true,
    platform: 'node',
    // CommonJS, not ESM: a CommonJS main file does not start Node's ESM loader, 15-18 ms of CPU of every
    // run (appctl status, median of 25 interleaved, Node 20 and 24).
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    // The bundle sits in dist/ctl/ like main.js, so shared/version.ts still finds ../../package.json.
    banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': 'importMetaUrl' },
    // blessed (top's full-screen dashboard, ~50 files with optional requires esbuild cannot resolve) is
    // required from node_modules, inside the lazily evaluated module that uses it: only top loads it.
    external: ['blessed'],
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleAppctl().catch((error: unknown) => {
    process.stderr.write(`bundle-appctl: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
