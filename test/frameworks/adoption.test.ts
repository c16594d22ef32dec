// Script workers and the server form against real daemons: the adopt-listen policy and its errors,
// wait-ready, scripts that fail, a server-form app without a request listener, and module onDrain.
// Runs in the ava test process.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { findListeningPorts } from '../helpers/ports.js';
import { sleep, waitFor } from '../helpers/processes.js';
import { reloadAndWait } from '../helpers/reload.js';

const FASTIFY_SCRIPT = fixture(join('frameworks', 'fastify-script.mjs'));

test('--adopt-listen 3000 adopts the script listen({ port: 3000 })', async (t) => {
  const daemon = await startDaemon(t, { args: ['--script', FASTIFY_SCRIPT, '--adopt-listen', '3000', '-b', '127.0.0.1:0'] });
  t.regex((await get(daemon.url)).body, /^fastify pid=/);
  t.deepEqual(findListeningPorts(daemon.workers()), [daemon.port]);
});

test('--adopt-listen env refuses a listen() on another port than PORT: exit 3 naming the call', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['--script', FASTIFY_SCRIPT, '--adopt-listen', 'env', '-b', '127.0.0.1:0', '-w', '2'],
    waitFor: 'nothing',
  });
  const { code } = await daemon.exited();
  t.is(code, 3, daemon.output);
  t.regex(daemon.output, /listen\(port 3000 on localhost\) does not match adopt-listen env \(PORT=\d+\)/);
  t.regex(daemon.output, /listen on process\.env\.PORT, or run appd with --adopt-listen any/);
});

test('a second HTTP server calling listen() fails the boot instead of opening a port in every worker', async (t) => {
  const daemon = await startDaemon(t, { args: ['--script', fixture('two-servers.mjs'), '-b', '127.0.0.1:0'], waitFor: 'nothing' });
  const { code } = await daemon.exited();
  t.is(code, 3, daemon.output);
  t.regex(daemon.output, /called listen\(port \d+\); a second HTTP server's listen\(port 9464\) is not served/);
});

test('--wait-ready: a script worker is ready only after process.send("ready"), which the master never sees', async (t) => {
  const readyFile = 'ready-flag'; // relative to the daemon's (and so the worker's) directory
  const daemon = await startDaemon(t, {
    args: ['--script', fixture('wait-ready.mjs'), '--wait-ready', '-b', '127.0.0.1:0'],
    env: { READY_FILE: readyFile },
    waitFor: 'nothing',
  });
  await daemon.waitForLog(/Listening at: /);
  await daemon.waitForWorkers(1);
  await sleep(1000);
  t.notRegex(daemon.output, /ready in/, 'listening alone does not make it ready');
  writeFileSync(join(daemon.directory, readyFile), '');
  await daemon.waitForLog(/\[INFO\] ready: 1 worker/);
  t.is((await get(daemon.url)).status, 200);
});

test('without --wait-ready the same script is ready once it listens', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['--script', fixture('wait-ready.mjs'), '-b', '127.0.0.1:0'],
    env: { READY_FILE: '/nonexistent/never' },
  });
  t.is((await get(daemon.url)).status, 200);
});

test('a script that throws before listening: exit 3 with its error', async (t) => {
  const daemon = await startDaemon(t, {
    args: ['--script', fixture('script-throws.mjs'), '-b', '127.0.0.1:0', '--boot-timeout', '5'],
    waitFor: 'nothing',
  });
  const { code } = await daemon.exited();
  t.is(code, 3);
  t.regex(daemon.output, /cannot connect to the database at db\.internal:5432/);
});

test('a missing script: exit 4 naming it; app and script together: exit 2', async (t) => {
  const missing = await startDaemon(t, { args: ['--script', './nope.js', '-b', '127.0.0.1:0'], waitFor: 'nothing' });
  t.is((await missing.exited()).code, 4);
  t.regex(missing.output, /script not found: \/.*\/nope\.js/);
  const both = await startDaemon(t, { args: [fixture('pid-app.mjs'), '--script', FASTIFY_SCRIPT], waitFor: 'nothing' });
  t.is((await both.exited()).code, 2);
  t.regex(both.output, /both app \(.*pid-app\.mjs\) and script \(.*fastify-script\.mjs\) are set: give one/);
});

test('server form without a request listener answers 426; a named async onDrain export runs before the worker exits', async (t) => {
  const daemon = await startDaemon(t, {
    args: [`${fixture('upgrade-only.mjs')}:attach(server)`, '-b', '127.0.0.1:0', '--graceful-timeout', '7'],
  });
  const response = await get(daemon.url);
  t.is(response.status, 426);
  // A reload, not a stop: the master stays to relay the old worker's last output.
  await reloadAndWait(daemon, 2);
  await daemon.waitForLog(/\[web\.0 g1\] onDrain called with gracefulTimeoutMs=7000/);
  const exitLine = await daemon.waitForLog(/worker web\.0 g1 \(pid \d+\) exited \(exit code 0\)/);
  t.regex(daemon.output.slice(0, exitLine.index), /\[web\.0 g1\] onDrain finished/, 'the worker waited for its async onDrain');
});

test('a function export is a request listener unless the reference says (server)', async (t) => {
  // Without (server), attach would be called as a request listener: it would never answer.
  const daemon = await startDaemon(t, { args: [`${fixture('upgrade-only.mjs')}:attach`, '-b', '127.0.0.1:0'] });
  await t.throwsAsync(get(daemon.url, { timeoutMs: 500 }), { message: /timed out/ });
});

function httpsGet(options: https.RequestOptions): Promise<string> {
  return new Promise((settle, fail) => {
    const outgoing = https.get({ ...options, rejectUnauthorized: false, agent: false, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => settle(body));
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('https request timed out')));
    outgoing.on('error', fail);
  });
}

test('an HTTPS script is adopted too, and serves every bind (TCP and unix) with its own certificate', async (t) => {
  const directory = tempDirectory(t);
  const [certFile, keyFile] = [join(directory, 'cert.pem'), join(directory, 'key.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  const socketPath = join(directory, 'web.sock');
  const daemon = await startDaemon(t, {
    args: ['--script', fixture('https-script.mjs'), '-w', '2', '-b', '127.0.0.1:0', '-b', `unix:${socketPath}`],
    env: { CERT_FILE: certFile, KEY_FILE: keyFile },
  });
  t.regex(await httpsGet({ host: '127.0.0.1', port: daemon.port }), /^tls pid=\d+ encrypted=true/);
  t.regex(await httpsGet({ socketPath }), /^tls pid=\d+ encrypted=true/, 'the second listener reaches the same TLS server');
  t.deepEqual(findListeningPorts(daemon.workers()), [daemon.port], 'port 8443 was never opened');
});

test('a script worker writes the access log and applies the request limits, like an app module', async (t) => {
  const daemon = await startDaemon(t, {
    args: [
      '--script',
      fixture(join('frameworks', 'express-script.cjs')),
      '-b',
      '127.0.0.1:0',
      '--access-logfile',
      'access.log',
      '--limit-request-line',
      '100',
    ],
  });
  t.is((await get(`${daemon.url}/?from=test`)).status, 200);
  t.is((await get(`${daemon.url}/${'x'.repeat(200)}`)).status, 414, 'appd refuses the long request line before Express sees it');
  const lines = await waitFor('two access log lines', () => {
    const found = readFileSync(join(daemon.directory, 'access.log'), 'utf8').trim().split('\n');
    return found.length >= 2 ? found : null;
  });
  t.regex(lines[0] ?? '', /^127\.0\.0\.1 - - \[.+\] "GET \/\?from=test HTTP\/1\.1" 200 \d+ "-" "-"$/);
  t.regex(lines[1] ?? '', /"GET \/x+ HTTP\/1\.1" 414 /);
});

test('a pool key runs a script too, with its own adopt-listen over the global one', async (t) => {
  const config = `export default {
    adoptListen: 'env',
    pools: { api: { script: ${JSON.stringify(FASTIFY_SCRIPT)}, adoptListen: 3000, workers: 2, bind: '127.0.0.1:0' } },
  };\n`;
  const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': config } });
  const workers = await daemon.waitForWorkers(2);
  t.regex((await get(daemon.url)).body, /^fastify pid=/);
  t.deepEqual(findListeningPorts(workers), [daemon.port]);
});
