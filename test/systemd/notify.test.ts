// sd_notify against a real unix datagram listener standing in for systemd: READY only once workers are
// ready, watchdog pings, RELOADING/READY around HUP, STOPPING, MAINPID for an upgraded master.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { startNotifyListener } from '../helpers/notify-listener.js';
import { sleep } from '../helpers/processes.js';
import { monotonicMicroseconds, SystemdNotifier } from '../../daemon/systemd/notify.js';

const BOOT_DELAY_MS = 800;

test('READY=1 only after the first generation is ready, with STATUS=; no WATCHDOG=1 before it; RELOADING/READY around HUP; STOPPING on TERM', async (t) => {
  const listener = await startNotifyListener(t);
  const startedUsec = monotonicMicroseconds();
  const daemon = await startDaemon(t, {
    args: [`${fixture('slow-boot-app.mjs')}:create()`, '-w', '2', '-b', '127.0.0.1:0'],
    env: { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '400000', BOOT_DELAY_MS: String(BOOT_DELAY_MS) },
    waitFor: 'nothing',
  });

  const [ready] = await listener.waitFor('READY', '1', 1, 30_000);
  const beforeReady = listener.messages.slice(0, listener.messages.indexOf(ready!));
  t.false(beforeReady.some((message) => message.fields.has('WATCHDOG')), `systemd arms the watchdog at READY=1: no ping before it:\n${listener.describe()}`);
  t.true((ready?.receivedUsec ?? 0n) - startedUsec >= BigInt(BOOT_DELAY_MS * 1000), 'READY came after the app factory resolved');
  t.is(ready?.fields.get('STATUS'), '2/2 workers ready, generation 1', 'READY=1 and the status as it is when sent, in one message');
  t.is(ready?.pid, daemon.pid, 'systemd sees the master as the sender');
  await daemon.waitForLog(/\[INFO\] ready: /);
  t.regex((await get(daemon.url)).body, /generation=1 leaked=none/, 'workers never see NOTIFY_SOCKET or WATCHDOG_USEC');

  const pingsBefore = listener.having('WATCHDOG').length;
  await sleep(2000);
  t.true(listener.having('WATCHDOG').length - pingsBefore >= 2, `pings keep coming (one per 200 ms when idle):\n${listener.describe()}`);

  const hupUsec = monotonicMicroseconds();
  daemon.signal('SIGHUP');
  const [reloading] = await listener.waitFor('RELOADING', '1');
  const monotonic = BigInt(reloading?.fields.get('MONOTONIC_USEC') ?? '0');
  t.true(monotonic >= hupUsec && monotonic <= (reloading?.receivedUsec ?? 0n), 'MONOTONIC_USEC is CLOCK_MONOTONIC at the reload');
  t.is(reloading?.fields.get('STATUS'), 'reloading: reading the configuration', 'no stale worker count while reloading');
  const [, readyAgain] = await listener.waitFor('READY', '1', 2, 30_000);
  t.true(listener.messages.indexOf(readyAgain!) > listener.messages.indexOf(reloading!), 'READY=1 follows RELOADING=1');
  t.regex(daemon.output, /pool web reloaded: generation 2/, 'READY=1 only once the new generation serves');
  t.is(readyAgain?.fields.get('STATUS'), '2/2 workers ready, generation 2; last reload completed', 'the status says how the reload ended');
  const during = listener.messages.slice(listener.messages.indexOf(reloading!) + 1, listener.messages.indexOf(readyAgain!));
  t.false(during.some((message) => /generation 1$/.test(message.fields.get('STATUS') ?? '')), `no stale status while reloading:\n${listener.describe()}`);

  daemon.signal('SIGTERM');
  const [stopping] = await listener.waitFor('STOPPING', '1');
  t.is(stopping?.pid, daemon.pid);
  t.regex(stopping?.fields.get('STATUS') ?? '', /^stopping, \d worker\(s\) left$/);
  t.deepEqual(await daemon.exited(), { code: 0, signal: null });
  const afterStop = listener.messages.slice(listener.messages.indexOf(stopping!) + 1);
  t.false(afterStop.some((message) => message.fields.has('READY')), 'nothing claims readiness after STOPPING');
});

test('STATUS= after a reload says how it ended: a config error, a roll back; RELOADING=1 comes first every time', async (t) => {
  const listener = await startNotifyListener(t);
  const config = (workers: number): string => `export default { app: ${JSON.stringify(`${fixture('generation-app.mjs')}:create()`)}, workers: ${workers}, bind: '127.0.0.1:0' };\n`;
  const daemon = await startDaemon(t, {
    args: ['-c', 'appd.config.mjs'],
    files: { 'appd.config.mjs': config(2) },
    env: { NOTIFY_SOCKET: listener.socket, FAIL_SLOT: '1' },
  });
  await listener.waitFor('READY', '1', 1, 30_000);

  writeFileSync(join(daemon.directory, 'appd.config.mjs'), 'export default { workers: ;\n');
  daemon.signal('SIGHUP');
  const [, broken] = await listener.waitFor('READY', '1', 2, 30_000);
  t.regex(broken?.fields.get('STATUS') ?? '', /^2\/2 workers ready, generation 1; last reload failed: nothing changed: .*appd\.config\.mjs/);
  const [firstReloading] = listener.having('RELOADING', '1');
  t.true(listener.messages.indexOf(firstReloading!) < listener.messages.indexOf(broken!), 'RELOADING=1 before READY=1, also on a syntax error');

  // Slot 1 cannot boot generation 2 (FAIL_SLOT): the reload rolls back.
  writeFileSync(join(daemon.directory, 'appd.config.mjs'), config(2));
  daemon.signal('SIGHUP');
  const [, , rolledBack] = await listener.waitFor('READY', '1', 3, 30_000);
  t.regex(rolledBack?.fields.get('STATUS') ?? '', /; last reload rolled back: /, listener.describe());
  t.is(listener.having('RELOADING', '1').length, 2);
  t.log(listener.describe());
});

test('an upgraded master announces itself with MAINPID= and READY=1 (the API the upgrade uses)', async (t) => {
  const listener = await startNotifyListener(t);
  const environment: NodeJS.ProcessEnv = { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid), KEEP: 'yes' };
  const warnings: string[] = [];
  const notifier = SystemdNotifier.fromEnvironment(environment, (message) => warnings.push(message));
  t.deepEqual(environment, { KEEP: 'yes' }, 'the variables are taken out of the environment workers inherit');
  t.is(notifier?.watchdogIntervalMs, 15_000, 'half of WATCHDOG_USEC');
  t.deepEqual(notifier?.successorEnvironment(), { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC: '30000000' });

  notifier?.send({ MAINPID: process.pid, READY: 1, STATUS: 'upgraded\nto g2' });
  await notifier?.flush();
  const [announced] = await listener.waitFor('MAINPID');
  t.is(announced?.text, `MAINPID=${process.pid}\nREADY=1\nSTATUS=upgraded to g2`);
  t.is(announced?.pid, process.pid, 'sent with the credentials of the process that ran systemd-notify');
  t.deepEqual(warnings, []);
});

test('messages keep their order; a waiting STATUS-only message is replaced by a newer one', async (t) => {
  const listener = await startNotifyListener(t);
  const notifier = new SystemdNotifier({ socket: listener.socket, watchdogMicroseconds: null, warn: (message) => t.fail(message) });
  notifier.send({ READY: 1 });
  for (let index = 1; index <= 5; index += 1) notifier.send({ STATUS: `step ${index}` });
  notifier.send({ STOPPING: 1 });
  await notifier.flush();
  await listener.waitFor('STOPPING');
  const texts = listener.messages.map((message) => message.text);
  t.is(texts[0], 'READY=1');
  t.is(texts.at(-1), 'STOPPING=1');
  t.is(texts.at(-2), 'STATUS=step 5', 'the latest status is never dropped');
  t.true(texts.length <= 4, `intermediate statuses were merged: ${texts.join(' | ')}`);
});

test('without systemd-notify on PATH the daemon warns once and serves anyway', async (t) => {
  const listener = await startNotifyListener(t);
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'],
    env: { NOTIFY_SOCKET: listener.socket, PATH: '/nonexistent' },
  });
  t.is((await get(daemon.url)).status, 200);
  daemon.signal('SIGTERM');
  t.deepEqual(await daemon.exited(), { code: 0, signal: null });
  t.is(daemon.output.match(/systemd-notify was not found on PATH/g)?.length, 1, daemon.output);
  t.deepEqual(listener.messages, []);
});

test('with several pools, one READY=1 answers RELOADING=1, after the last pool reloaded', async (t) => {
  const listener = await startNotifyListener(t);
  const pools = {
    web: { app: fixture('pid-app.mjs'), workers: 1, bind: '127.0.0.1:0' },
    api: { app: `${fixture('slow-boot-app.mjs')}:create()`, workers: 1, bind: 'unix:api.sock', env: { BOOT_DELAY_MS: '1500' } },
  };
  const daemon = await startDaemon(t, {
    args: [],
    files: { 'appd.config.mjs': `export default ${JSON.stringify({ pools })};\n` },
    env: { NOTIFY_SOCKET: listener.socket },
  });
  await listener.waitFor('READY', '1');
  daemon.signal('SIGHUP');
  const [reloading] = await listener.waitFor('RELOADING', '1');
  await daemon.waitForLog(/pool api reloaded: generation 2/);
  t.regex(daemon.output, /pool web reloaded: generation 2/);
  const [, readyAgain] = await listener.waitFor('READY', '1', 2);
  const statusesAfter = listener.messages.slice(listener.messages.indexOf(readyAgain!) + 1).map((message) => message.fields.get('STATUS') ?? '');
  t.false(statusesAfter.some((status) => status.includes('reloading')), `READY=1 came only once no pool was reloading:\n${listener.describe()}`);
  t.true(listener.messages.indexOf(reloading!) < listener.messages.indexOf(readyAgain!));
  // Statuses in between are coalesced (at most one a second); the READY=1 carries the end state.
  t.is(readyAgain?.fields.get('STATUS'), 'web: 1/1 workers ready, generation 2; api: 1/1 workers ready, generation 2; last reload completed');
  await sleep(500);
  t.is(listener.having('READY').length, 2, `one READY=1 for the start, one for the reload:\n${listener.describe()}`);
});
