// Boots a pool's app as far as a worker would before serving, for `appd --check-config`, and writes one
// verdict line on fd 3: an app module is loaded with the worker's own loadApp (its factory called); a
// script runs as the main module (this file preloaded with node --import) until the listen() appd would
// adopt. Runs in a short-lived check process, started as the worker's user from the worker's directory.

import { existsSync, writeSync } from 'node:fs';
import { describeAppError } from './app-error.js';
import { CHECK_SPEC_VARIABLE, CHECK_VERDICT_FD, CHECK_VERDICT_LIMIT, type CheckSpec, type CheckVerdict } from '../contracts/app-check.js';
import { describeTarget, installListenAdoption } from './script/listen-adoption.js';
import { AppBootFailure, loadApp } from './load-app.js';

const spec = JSON.parse(process.env[CHECK_SPEC_VARIABLE] ?? '{}') as CheckSpec;
delete process.env[CHECK_SPEC_VARIABLE];

/** Writes the verdict and ends the process: the app's timers, sockets and pools must not keep it alive. */
function report(verdict: CheckVerdict): never {
  const line = JSON.stringify(verdict);
  writeSync(
    CHECK_VERDICT_FD,
    `${line.length > CHECK_VERDICT_LIMIT ? JSON.stringify({ ...verdict, message: 'message: too long' }) : line}\n`,
  );
  process.exit(0);
}

if (spec.script === null) {
  try {
    const loaded = await loadApp(spec.app, process.cwd());
    report({ ok: true, detail: `loads: ${loaded.form === 'server' ? 'a function that receives the server' : 'a request handler'}` });
  } catch (error) {
    if (error instanceof AppBootFailure) report({ ok: false, phase: error.phase, message: error.message });
    report({ ok: false, phase: 'init', message: `cannot start serving: ${describeAppError(error)}` });
  }
} else {
  const script = spec.script;
  if (!existsSync(script)) report({ ok: false, phase: 'load', message: `script not found: ${script}` });
  // A script that throws while it starts (a bad import, a missing dependency) ends as a worker would.
  process.on('uncaughtException', (error) =>
    report({ ok: false, phase: 'load', message: `script ${script} failed: ${describeAppError(error)}` }),
  );
  const port = process.env['PORT'];
  installListenAdoption(spec.adoptListen, port && /^\d+$/.test(port) ? Number(port) : null, {
    adopt: (_server, call) => report({ ok: true, detail: `reaches ${describeTarget(call.target)}` }),
    refused: (error, expected) => {
      if (!expected) report({ ok: false, phase: 'listen', message: error.message });
      return false;
    },
  });
}
