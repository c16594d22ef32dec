// The admin listener across appd upgrade: the new master takes the same address over (TCP port or unix
// socket) once the old master exits, and its counters start from its own workers; a metrics-bind that
// another process holds stops a normal start with a clear error.

import test from 'ava';
import net from 'node:net';
import { join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { request } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, waitFor } from '../helpers/processes.js';

async function livePid(url: string, socketPath?: string): Promise<number | null> {
  const answer = await request(url, { timeoutMs: 3000, ...(socketPath ? { socketPath } : {}) }).catch(() => null);
  return answer?.status === 200 ? Number((JSON.parse(answer.body) as { pid: number }).pid) : null;
}

for (const kind of ['tcp', 'unix'] as const) {
  test.serial(
    `appctl upgrade: the new master serves /livez and /metrics at the same ${kind} address once the old one is gone`,
    async (t) => {
      const port = await freePort();
      const address = kind === 'tcp' ? `127.0.0.1:${port}` : 'unix:admin.sock';
      const daemon = await startDaemon(t, {
        args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', address, '--graceful-timeout', '2'],
      });
      const socketPath = kind === 'unix' ? join(daemon.directory, 'admin.sock') : undefined;
      const url = kind === 'tcp' ? `http://${address}` : 'http://localhost';
      t.is(await livePid(`${url}/livez`, socketPath), daemon.pid);
      const upgrade = await appctl(['upgrade'], { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
      t.is(upgrade.code, 0, upgrade.stderr);
      const successor = Number(/new master pid (\d+)/.exec(upgrade.stdout)?.[1]);
      await waitFor('the old master to exit', () => !isAlive(daemon.pid), 30_000);
      t.is(
        await waitFor(
          'the new master on the admin address',
          async () => ((await livePid(`${url}/livez`, socketPath)) === successor ? true : null),
          15_000,
          100,
        ),
        true,
      );
      const metrics = await request(`${url}/metrics`, socketPath ? { socketPath } : {});
      t.regex(metrics.body, /^appd_generation\{pool="web"\} 2$/m);
      t.regex(
        daemon.output,
        new RegExp(`metrics-bind ${address.replace('.', '\\.')}: the old master serves it until it exits; taking it over then`),
      );
    },
  );
}

test('a metrics-bind another process listens on stops the start with a clear error', async (t) => {
  const holder = net.createServer().listen(0, '127.0.0.1');
  await new Promise((settle) => holder.once('listening', settle));
  t.teardown(() => holder.close());
  const { port } = holder.address() as net.AddressInfo;
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', `127.0.0.1:${port}`],
    waitFor: 'nothing',
  });
  const { code } = await daemon.exited();
  t.is(code, 2);
  t.regex(daemon.output, new RegExp(`cannot listen on metrics-bind 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
});

test('a metrics-bind equal to a bind is refused before anything starts', async (t) => {
  const port = await freePort();
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-b', `127.0.0.1:${port}`, '--metrics-bind', `0.0.0.0:${port}`],
    waitFor: 'nothing',
  });
  const { code } = await daemon.exited();
  t.is(code, 2);
  t.regex(
    daemon.output,
    new RegExp(
      `metrics-bind 0\\.0\\.0\\.0:${port} is also a bind of the app \\(127\\.0\\.0\\.1:${port}\\); give the admin listener its own address`,
    ),
  );
});
