// The app contract (DESIGN.md section 9): default export, named export, factory(), { fetch } handler,
// Koa-style callback(), in ESM and CommonJS, each served by a real worker.

import test from 'ava';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get, request } from '../helpers/http.js';

const CASES: [string, string][] = [
  ['app-forms.mjs', 'esm default\n'],
  ['app-forms.mjs:named', 'esm named\n'],
  ['app-forms.mjs:createApp()', 'esm factory\n'],
  ['app-forms.mjs:koaLike', 'koa-style callback\n'],
  ['app-forms.cjs', 'cjs listener /x\n'],
  ['app-forms.cjs:named', 'cjs named\n'],
  ['app-forms.cjs:createApp()', 'cjs factory\n'],
];

for (const [app, expected] of CASES) {
  test(`serves ${app}`, async (t) => {
    const daemon = await startDaemon(t, { args: [fixture(app), '-b', '127.0.0.1:0'] });
    const response = await get(`${daemon.url}/x`);
    t.is(response.status, 200);
    t.is(response.body, expected);
  });
}

test('serves a Web-standard { fetch } handler: method, path, body, status, repeated headers', async (t) => {
  const daemon = await startDaemon(t, { args: [`${fixture('app-forms.mjs')}:fetchApp`, '-b', '127.0.0.1:0'] });
  const response = await request(`${daemon.url}/orders`, { method: 'POST', body: 'hello' });
  t.is(response.status, 201);
  t.is(response.body, 'fetch POST /orders hello\n');
  t.is(response.headers['x-app'], 'fetch');
  t.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2']);
});

test('a named export that does not exist: exit 4 listing what the module exports', async (t) => {
  const daemon = await startDaemon(t, { args: [`${fixture('app-forms.mjs')}:nope`, '-b', '127.0.0.1:0'], waitFor: 'nothing' });
  t.is((await daemon.exited()).code, 4);
  t.regex(daemon.output, /app-forms\.mjs has no export "nope" \(it exports: createApp, fetchApp, koaLike, named\)/);
});
