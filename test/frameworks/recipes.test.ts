// Each framework recipe of the README under a real daemon with 2 workers: both workers answer, and
// scripts never open the port they name. Runs in the ava test process.

import test from 'ava';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { distinctResponders, get } from '../helpers/http.js';
import { findListeningPorts } from '../helpers/ports.js';

interface Recipe {
  readonly title: string;
  readonly args: readonly string[];
  readonly body: RegExp;
  /** The port the script asks for, which appd must not open. */
  readonly scriptPort?: number;
}

const recipe = (name: string): string => fixture(join('frameworks', name));

const RECIPES: readonly Recipe[] = [
  { title: 'Express app exported as a listener', args: [recipe('express-app.cjs')], body: /^express pid=\d+/ },
  {
    title: 'unmodified Express script (app.listen(process.env.PORT || 3000))',
    args: ['--script', recipe('express-script.cjs')],
    body: /^express pid=\d+/,
  },
  {
    title: 'Fastify app from an async factory (fastify.routing)',
    args: [`${recipe('fastify-app.mjs')}:createApp()`],
    body: /^fastify pid=\d+/,
  },
  {
    title: 'unmodified Fastify script (listen({ port: 3000 }))',
    args: ['--script', recipe('fastify-script.mjs')],
    body: /^fastify pid=\d+/,
    scriptPort: 3000,
  },
  { title: 'Koa app exported as is', args: [recipe('koa-app.mjs')], body: /^koa pid=\d+/ },
  { title: 'unmodified Koa script (app.listen)', args: ['--script', recipe('koa-script.mjs')], body: /^koa pid=\d+/ },
  { title: 'Hono app exported as a fetch handler', args: [recipe('hono-app.mjs')], body: /^hono pid=\d+/ },
  { title: 'unmodified Hono script (@hono/node-server serve())', args: ['--script', recipe('hono-script.mjs')], body: /^hono pid=\d+/ },
  {
    title: 'Next.js-style custom server (prepare(), then createServer().listen(port))',
    args: ['--script', recipe('next-style-server.mjs')],
    body: /^next pid=\d+ generation=1 path=\/$/m,
  },
  { title: 'ws echo server in the server form', args: [`${recipe('ws-echo.mjs')}:attach(server)`], body: /^ws pid=\d+/ },
];

for (const { title, args, body, scriptPort } of RECIPES) {
  test.serial(`${title}: 2 workers both answer`, async (t) => {
    const daemon = await startDaemon(t, { args: [...args, '-w', '2', '-b', '127.0.0.1:0'] });
    const workers = await daemon.waitForWorkers(2);
    const response = await get(daemon.url);
    t.is(response.status, 200);
    t.regex(response.body, body);
    const responders = await distinctResponders(daemon.url, /pid=(\d+)/, 2);
    t.deepEqual([...responders].map(Number).sort(), [...workers].sort(), 'each worker answered');
    const ports = findListeningPorts(workers);
    t.deepEqual(ports, [daemon.port], `the workers listen only on appd's socket (found ${ports.join(', ')})`);
    if (scriptPort !== undefined) t.false(ports.includes(scriptPort));
    t.notRegex(daemon.output, /ERROR|stderr\]/, 'nothing went wrong on the way');
  });
}
