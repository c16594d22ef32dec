// A real HAProxy in front of appd, configured by docs/proxies/haproxy.cfg as it is (temporary paths and
// ports swapped in): send-proxy-v2, and send-proxy (v1), give appd the client's address. Skipped,
// saying why, where haproxy is missing. Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { isInstalled } from '../helpers/installed-tool.js';
import { waitFor } from '../helpers/processes.js';
import { recipeWith, selfSignedCertificate, startHaproxy, startOnFreePorts } from '../helpers/proxy-servers.js';

function haproxyTest(title: string, implementation: (t: ExecutionContext) => Promise<void>): void {
  if (isInstalled('haproxy')) test.serial(title, implementation);
  else test.skip(`${title} [skipped: haproxy is not installed (.ci/run installs it with apt)]`, implementation);
}

for (const [send, version] of [
  ['send-proxy-v2', 'v2'],
  ['send-proxy', 'v1'],
] as const) {
  haproxyTest(
    `HAProxy ${send} gives appd the client's address (--proxy-protocol ${version}): socket, req.appd and access log`,
    async (t) => {
      const daemon = await startDaemon(t, {
        args: [
          fixture('proxies/client-app.mjs'),
          '-w',
          '2',
          '-b',
          'unix:web.sock',
          '--proxy-protocol',
          version,
          '--access-logfile',
          'access.log',
          '--access-log-format',
          '%(h)s %(peer)s "%(r)s" %(s)s',
        ],
      });
      const {
        ports: [port = 0],
      } = await startOnFreePorts(1, ([port = 0]) => {
        const replacements: [string, string][] = [
          ['/run/shop/', `${daemon.directory}/`],
          ['bind :80', `bind 127.0.0.1:${port}`],
        ];
        if (send === 'send-proxy') replacements.push(['send-proxy-v2', 'send-proxy']);
        return startHaproxy(t, recipeWith('haproxy.cfg', replacements), port);
      });
      // Two different clients, as HAProxy sees them.
      for (const client of ['127.0.0.2', '127.0.0.3']) {
        const answer = await request(`http://127.0.0.1:${port}/from-${client}`, { localAddress: client });
        t.is(answer.status, 200, answer.body);
        const body = JSON.parse(answer.body) as { remoteAddress: string; appd: { clientAddress: string; peerAddress: string | null } };
        t.is(body.remoteAddress, client);
        t.is(body.appd.clientAddress, client);
        t.is(body.appd.peerAddress, null, 'HAProxy itself is a unix socket peer');
        const log = join(daemon.directory, 'access.log');
        t.is(
          await waitFor(
            'its access log line',
            () =>
              readFileSync(log, 'utf8')
                .split('\n')
                .find((line) => line.includes(`/from-${client}`)) ?? null,
          ),
          `${client} - "GET /from-${client} HTTP/1.1" 200`,
        );
      }
    },
  );
}

haproxyTest(
  'HAProxy passing TLS through (the PROXY header and the ClientHello in one segment): appd terminates TLS, every handshake completes',
  async (t) => {
    const directory = tempDirectory(t);
    const [certificate, key] = selfSignedCertificate(directory);
    const daemon = await startDaemon(t, {
      args: [
        fixture('proxies/client-app.mjs'),
        '-b',
        'unix:web.sock',
        '--proxy-protocol',
        'v2',
        '--certfile',
        certificate,
        '--keyfile',
        key,
      ],
    });
    const {
      ports: [port = 0],
    } = await startOnFreePorts(1, ([port = 0]) =>
      startHaproxy(
        t,
        recipeWith('haproxy.cfg', [
          ['/run/shop/', `${daemon.directory}/`],
          ['bind :80', `bind 127.0.0.1:${port}`],
        ]),
        port,
      ),
    );
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const body = await new Promise<string>((settle, fail) => {
        const outgoing = https.get(
          {
            host: '127.0.0.1',
            port,
            path: `/tls-${attempt}`,
            localAddress: '127.0.0.4',
            rejectUnauthorized: false,
            agent: false,
            timeout: 20_000,
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
            response.on('end', () => settle(text));
          },
        );
        outgoing.on('timeout', () => outgoing.destroy(new Error(`handshake ${attempt} did not complete`)));
        outgoing.on('error', fail);
      });
      t.like(JSON.parse(body), { remoteAddress: '127.0.0.4', appd: { clientAddress: '127.0.0.4', scheme: 'https' } });
    }
  },
);
