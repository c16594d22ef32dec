// A real HAProxy in front of appd, configured by docs/proxies/haproxy.cfg as it is (temporary paths and
// ports swapped in): send-proxy-v2, and send-proxy (v1), give appd the client's address. Skipped,
// saying why, where haproxy is missing. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { isInstalled } from '../helpers/installed-tool.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/processes.js';
import { recipeWith, startHaproxy } from '../helpers/proxy-servers.js';

function haproxyTest(title: string, implementation: (t: ExecutionContext) => Promise<void>): void {
  if (isInstalled('haproxy')) test.serial(title, implementation);
  else test.skip(`${title} [skipped: haproxy is not installed (.ci/run installs it with apt)]`, implementation);
}

for (const [send, version] of [['send-proxy-v2', 'v2'], ['send-proxy', 'v1']] as const) {
  haproxyTest(`HAProxy ${send} gives appd the client's address (--proxy-protocol ${version}): socket, req.appd and access log`, async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('proxies/client-app.mjs'), '-w', '2', '-b', 'unix:web.sock', '--proxy-protocol', version, '--access-logfile', 'access.log', '--access-log-format', '%(h)s %(peer)s "%(r)s" %(s)s'] });
    const port = await freePort();
    const replacements: [string, string][] = [['/run/shop/', `${daemon.directory}/`], ['bind :80', `bind 127.0.0.1:${port}`]];
    if (send === 'send-proxy') replacements.push(['send-proxy-v2', 'send-proxy']);
    await startHaproxy(t, recipeWith('haproxy.cfg', replacements), port);
    // Two different clients, as HAProxy sees them.
    for (const client of ['127.0.0.2', '127.0.0.3']) {
      const answer = await request(`http://127.0.0.1:${port}/from-${client}`, { localAddress: client });
      t.is(answer.status, 200, answer.body);
      const body = JSON.parse(answer.body) as { remoteAddress: string; appd: { clientAddress: string; peerAddress: string | null } };
      t.is(body.remoteAddress, client);
      t.is(body.appd.clientAddress, client);
      t.is(body.appd.peerAddress, null, 'HAProxy itself is a unix socket peer');
      const log = join(daemon.directory, 'access.log');
      t.is(await waitFor('its access log line', () => readFileSync(log, 'utf8').split('\n').find((line) => line.includes(`/from-${client}`)) ?? null), `${client} - "GET /from-${client} HTTP/1.1" 200`);
    }
  });
}
