// Binary upgrade against real daemons under keep-alive and HTTP/1.0 load with no retries: appctl
// upgrade twice in a row, a broken deploy rolled back, Gunicorn's manual USR2 + WINCH + TERM dance,
// MAINPID= under systemd, and the config sources a successor inherits.

import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { appctl, statusOf } from '../helpers/appctl.js';
import { fixture, startDaemon, tempDirectory, type TestDaemon } from '../helpers/daemon.js';
import { distinctResponders, get } from '../helpers/http.js';
import { startNotifyListener } from '../helpers/notify-listener.js';
import { commandLine, isAlive, waitFor } from '../helpers/processes.js';
import { assertNoFailures, underLoad } from '../helpers/under-load.js';

const GENERATION = /generation=(\d+)/;

function run(daemon: TestDaemon, ...args: string[]) {
  return appctl(args, { runtimeDirectory: daemon.directory, timeoutMs: 60_000 });
}

function pidfilePid(daemon: TestDaemon, name = 'app.pid'): number {
  return Number(readFileSync(join(daemon.directory, name), 'utf8').trim());
}

/** Nothing of an upgrade is left behind: no .oldbin, no successor's temporary control socket. */
function assertNoLeftovers(t: ExecutionContext, daemon: TestDaemon): void {
  t.false(existsSync(join(daemon.directory, 'app.pid.oldbin')), 'no app.pid.oldbin left');
  t.deepEqual(
    readdirSync(join(daemon.directory, 'appd')).filter((entry) => entry.startsWith('.')),
    [],
    'no temporary control socket left',
  );
}

test.serial(
  '2 consecutive appctl upgrades of 4 workers under load fail no request; the pidfile, the control socket and the workers move to the new master',
  async (t) => {
    const daemon = await startDaemon(t, {
      args: [
        `${fixture('generation-app.mjs')}:create()`,
        '-w',
        '4',
        '-b',
        '127.0.0.1:0',
        '--pidfile',
        'app.pid',
        '--graceful-timeout',
        '10',
      ],
    });
    await daemon.waitForWorkers(4);
    const masters = [pidfilePid(daemon)];
    t.is(masters[0], daemon.pid);
    const durations: number[] = [];
    const result = await underLoad(
      `${daemon.url}/?delay=2`,
      async () => {
        for (let upgrade = 1; upgrade <= 2; upgrade += 1) {
          const old = masters.at(-1) ?? -1;
          const startedAt = performance.now();
          const outcome = await run(daemon, 'upgrade');
          durations.push(Math.round(performance.now() - startedAt));
          t.is(outcome.code, 0, outcome.stderr);
          const successor = pidfilePid(daemon);
          t.not(successor, old, 'the pidfile names the new master');
          t.regex(
            outcome.stdout,
            new RegExp(
              `upgraded: new master pid ${successor} serves \\(4 workers ready .*\\); the old master \\(pid ${old}\\) drained its workers and exited`,
            ),
          );
          await waitFor(`old master ${old} to be gone`, () => !isAlive(old));
          const snapshot = await statusOf(daemon.directory);
          t.is(snapshot.master.pid, successor, 'appctl status talks to the new master');
          t.like(snapshot.pools[0], { ready: 4, generation: upgrade + 1 });
          masters.push(successor);
        }
      },
      { classify: GENERATION },
    );
    t.log(
      `appctl upgrade took ${durations.join(', ')} ms; masters ${masters.join(' -> ')}; responses by generation: ${JSON.stringify(Object.fromEntries(result.seen))}`,
    );
    assertNoFailures(t, result, '2 upgrades');
    t.deepEqual([...result.seen.keys()].sort(), ['1', '2', '3'], "each master's workers answered");
    assertNoLeftovers(t, daemon);
    t.regex(commandLine(masters[2] ?? -1), /^appd: master \[appd\]/);
  },
);

test.serial(
  "a broken deploy: appctl upgrade rolls back under load (exit 1 with the app's error); the old master keeps its pid, pidfile, socket and workers",
  async (t) => {
    const app = `export default (request, response) => response.end('generation=' + process.env.APPD_GENERATION + '\\n');\n`;
    const daemon = await startDaemon(t, {
      args: ['app.mjs', '-w', '4', '-b', '127.0.0.1:0', '--pidfile', 'app.pid'],
      files: { 'app.mjs': app },
    });
    const workers = (await daemon.waitForWorkers(4)).sort();
    writeFileSync(join(daemon.directory, 'app.mjs'), `throw new Error('broken on purpose');\n`);
    const result = await underLoad(daemon.url, () => run(daemon, 'upgrade', '--json'), { classify: GENERATION });
    assertNoFailures(t, result, 'broken upgrade');
    const outcome = result.value;
    t.is(outcome.code, 1);
    t.like(JSON.parse(outcome.stdout), { status: 'rolled_back' });
    const failed = /upgrade rolled back: the new master \(pid (\d+)\) failed: cannot load app .*app\.mjs: Error: broken on purpose/.exec(
      outcome.stderr,
    );
    t.truthy(failed, outcome.stderr);
    t.regex(outcome.stderr, new RegExp(`this master \\(pid ${daemon.pid}\\) keeps serving`));
    t.false(isAlive(Number(failed?.[1])), 'the new master is gone');
    t.deepEqual([...result.seen.keys()], ['1'], 'only the old generation answered');
    t.is(pidfilePid(daemon), daemon.pid);
    t.is((await statusOf(daemon.directory)).master.pid, daemon.pid);
    t.deepEqual(daemon.workers().sort(), workers, 'the same four workers serve');
    assertNoLeftovers(t, daemon);
  },
);

test.serial(
  'a new master with a worker that never gets ready is rolled back at boot-timeout; its workers that served drain (no request fails)',
  async (t) => {
    // Slot 1 cannot boot past generation 1: the new master (generation 2) gets web.0 ready, never web.1.
    const daemon = await startDaemon(t, {
      args: [`${fixture('generation-app.mjs')}:create()`, '-w', '2', '-b', '127.0.0.1:0', '--boot-timeout', '3'],
      env: { FAIL_SLOT: '1' },
    });
    await daemon.waitForWorkers(2);
    const result = await underLoad(`${daemon.url}/?delay=2`, () => run(daemon, 'upgrade'), { classify: GENERATION });
    assertNoFailures(t, result, 'upgrade rolled back at boot-timeout');
    t.is(result.value.code, 1);
    t.regex(
      result.value.stderr,
      /upgrade rolled back: the new master \(pid \d+\) failed: not every worker became ready within boot-timeout \(3s\): .*slot 1 cannot boot generation 2/s,
    );
    t.true(result.seen.has('2'), "the new master's ready worker served before the roll back");
    t.is((await statusOf(daemon.directory)).master.pid, daemon.pid);
    t.regex((await get(daemon.url)).body, /^generation=1 /);
  },
);

test.serial(
  'USR2 alone: both masters serve until WINCH and TERM go to the old one (PIDFILE.oldbin); titles tell them apart; a second USR2 is refused by both',
  async (t) => {
    const daemon = await startDaemon(t, {
      args: [`${fixture('generation-app.mjs')}:create()`, '-w', '2', '-b', '127.0.0.1:0', '--pidfile', 'app.pid', '--name', 'shop'],
    });
    await daemon.waitForWorkers(2);
    const old = daemon.pid;
    const result = await underLoad(
      daemon.url,
      async () => {
        daemon.signal('SIGUSR2');
        // The new master writes app.pid, then app.pid.oldbin: wait for the second.
        const successor = await waitFor('the pidfile to name the new master, and app.pid.oldbin the old one', () => {
          const pid = pidfilePid(daemon);
          return pid !== old && existsSync(join(daemon.directory, 'app.pid.oldbin')) ? pid : null;
        });
        t.is(pidfilePid(daemon, 'app.pid.oldbin'), old, 'the old pid is in app.pid.oldbin');
        await daemon.waitForLog(/upgrade: both masters serve now; to finish: kill -WINCH/);
        t.regex(commandLine(old), /^appd: master \(old\) \[shop\]/);
        t.regex(commandLine(successor), /^appd: master \[shop\]/);
        t.is((await statusOf(daemon.directory)).master.pid, successor, 'appctl talks to the new master');
        const answered = await distinctResponders(`${daemon.url}/?busy=30`, GENERATION, 2);
        t.deepEqual([...answered].sort(), ['1', '2'], 'both generations answer');

        process.kill(old, 'SIGUSR2');
        await daemon.waitForLog(new RegExp(`upgrade refused: this master was replaced by pid ${successor}`));
        process.kill(successor, 'SIGUSR2');
        await daemon.waitForLog(new RegExp(`upgrade refused: the master this one replaced \\(pid ${old}\\) is still running`));

        process.kill(old, 'SIGWINCH');
        await daemon.waitForLog(/worker web\.1 g1 \(pid \d+\) exited \(exit code 0\) after workers stopped \(WINCH\)/);
        process.kill(old, 'SIGTERM');
        await waitFor('the old master to exit', () => !isAlive(old));
        return successor;
      },
      { classify: GENERATION },
    );
    assertNoFailures(t, result, 'USR2, WINCH, TERM');
    t.is(pidfilePid(daemon), result.value);
    assertNoLeftovers(t, daemon);
    t.regex((await get(daemon.url)).body, /^generation=2 /);
  },
);

test.serial(
  'rolling back the manual dance: TERM to the new master gives the old one back its pidfile, control socket and unix socket file',
  async (t) => {
    const daemon = await startDaemon(t, {
      args: [`${fixture('generation-app.mjs')}:create()`, '-w', '2', '-b', '127.0.0.1:0', '-b', 'unix:app.sock', '--pidfile', 'app.pid'],
    });
    const socketPath = join(daemon.directory, 'app.sock');
    const old = daemon.pid;
    const result = await underLoad(
      daemon.url,
      async () => {
        daemon.signal('SIGUSR2');
        // The way a script waits for a USR2 upgrade: PIDFILE.oldbin appears, then PIDFILE names the new master.
        const successor = await waitFor('the new master to take over', () =>
          existsSync(join(daemon.directory, 'app.pid.oldbin')) ? pidfilePid(daemon) : null,
        );
        t.not(successor, old, 'once app.pid.oldbin exists, app.pid names the new master');
        t.regex((await get('http://localhost/', { socketPath })).body, /^generation=[12] /);
        process.kill(successor, 'SIGTERM');
        await daemon.waitForLog(
          new RegExp(
            `the new master \\(pid ${successor}\\) exited \\(exit code 0\\) after it had taken over; this master is the master again`,
          ),
        );
        await daemon.waitForLog(/Control socket: .* \(this master answers there again\)/);
        return successor;
      },
      { classify: GENERATION },
    );
    assertNoFailures(t, result, 'USR2, then TERM to the new master');
    t.false(isAlive(result.value));
    t.is(pidfilePid(daemon), old, 'the pidfile names the old master again');
    t.is((await statusOf(daemon.directory)).master.pid, old, 'appctl reaches the old master again');
    t.regex(commandLine(old), /^appd: master \[appd\]/, 'no longer titled old');
    t.regex((await get('http://localhost/', { socketPath })).body, /^generation=1 /, 'the unix socket file is still there and served');
    assertNoLeftovers(t, daemon);
    const stop = await run(daemon, 'stop');
    t.is(stop.code, 0, stop.stderr);
    t.false(existsSync(socketPath), 'the old master removes its socket file when it stops');
  },
);

test.serial(
  'under systemd the new master announces MAINPID= with READY=1, the old one stays quiet; an upgrade in progress refuses a second one',
  async (t) => {
    const listener = await startNotifyListener(t);
    const daemon = await startDaemon(t, {
      args: [`${fixture('slow-boot-app.mjs')}:create()`, '-w', '2', '-b', '127.0.0.1:0', '--pidfile', 'app.pid'],
      env: { NOTIFY_SOCKET: listener.socket, BOOT_DELAY_MS: '1500' },
    });
    await listener.waitFor('READY', '1');
    const upgrading = run(daemon, 'upgrade');
    // With NOTIFY_SOCKET the successor is orphaned for systemd to adopt; its pid comes with its first report.
    await daemon.waitForLog(/upgrading: started a new master \(orphaned, for the service manager to adopt\)/);
    await daemon.waitForLog(/upgrade: the new master is pid \d+, a child of the service manager/);
    const second = await run(daemon, 'upgrade');
    t.is(second.code, 1);
    t.regex(
      second.stderr,
      /upgrade refused: an upgrade is already in progress \(new master pid \d+ started [\d.]+s ago\); wait for its outcome/,
    );
    const first = await upgrading;
    t.is(first.code, 0, first.stderr);
    const successor = pidfilePid(daemon);
    const [announced] = await listener.waitFor('MAINPID', String(successor));
    t.is(announced?.fields.get('READY'), '1');
    t.is(announced?.pid, successor, 'sent by the new master itself');
    await waitFor('the old master to exit', () => !isAlive(daemon.pid));
    const fromOld = listener.messages.filter((message) => message.pid === daemon.pid);
    t.false(
      fromOld.some((message) => message.fields.has('STOPPING')),
      `the old master did not tell systemd it stops:\n${listener.describe()}`,
    );
    t.false(
      listener.messages.some(
        (message) =>
          message.pid === successor &&
          listener.messages.indexOf(message) < listener.messages.indexOf(announced!) &&
          message.fields.has('STATUS'),
      ),
      'the new master was quiet before it took over',
    );
    t.regex((await get(daemon.url)).body, /generation=2 leaked=none/, "the new master's workers see no NOTIFY_SOCKET either");
  },
);

test('a successor reads the same config sources: the config file and APPD_CMD_ARGS from the directory the old master started in, before its chdir', async (t) => {
  const config = `export default { name: 'inherits', chdir: 'www', app: './app.mjs', bind: ['127.0.0.1:0', 'unix:../app.sock'], pidfile: '../app.pid' };\n`;
  const app = `export default (request, response) => response.end('generation=' + process.env.APPD_GENERATION + ' cwd=' + process.cwd() + '\\n');\n`;
  const daemon = await startDaemon(t, {
    args: [],
    env: { APPD_CMD_ARGS: '--workers 3' },
    files: { 'appd.config.mjs': config, 'www/app.mjs': app },
  });
  const outcome = await run(daemon, 'upgrade');
  t.is(outcome.code, 0, outcome.stderr);
  const snapshot = await statusOf(daemon.directory);
  t.like(snapshot, { name: 'inherits', master: { pid: pidfilePid(daemon) } });
  t.like(snapshot.pools[0], { ready: 3, generation: 2 });
  t.regex((await get(daemon.url)).body, new RegExp(`^generation=2 cwd=${join(daemon.directory, 'www')}\\n$`));
  await waitFor('the old master to exit', () => !isAlive(daemon.pid));
  const socketPath = join(daemon.directory, 'app.sock');
  t.regex(
    (await get('http://localhost/', { socketPath })).body,
    /^generation=2 /,
    'the old master left the unix socket file to the new one',
  );
  assertNoLeftovers(t, daemon);
  t.is((await run(daemon, 'stop')).code, 0);
  t.false(existsSync(socketPath), 'the new master removes it when it stops');
  t.false(existsSync(join(daemon.directory, 'app.pid')));
});

test('the new master runs the Node installed behind the name the old one was started by (a symlink moved to another Node)', async (t) => {
  // bin/node -> the real node; after the "install" it points to a script that leaves a mark and runs node.
  const bin = tempDirectory(t, 'appd-node-');
  const node = join(bin, 'node');
  symlinkSync(process.execPath, node);
  const daemon = await startDaemon(t, {
    args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'],
    // Runs appd as `BIN/node APPD ...`, the way a symlinked Node install is used.
    wrapper: ['/bin/sh', '-c', `shift; exec ${node} "$@"`, 'sh'],
  });
  const marker = join(bin, 'started-by-new-node');
  const newNode = join(bin, 'new-node.sh');
  writeFileSync(newNode, `#!/bin/sh\necho "$$" > ${marker}\nexec ${process.execPath} "$@"\n`);
  chmodSync(newNode, 0o755);
  unlinkSync(node);
  symlinkSync(newNode, node);
  const outcome = await run(daemon, 'upgrade');
  t.is(outcome.code, 0, outcome.stderr);
  t.regex(outcome.stdout, new RegExp(`started a new master \\(pid \\d+\\) on 1 socket\\(s\\): ${node} `));
  t.true(existsSync(marker), 'the new master was started through the moved symlink');
  t.is(Number(readFileSync(marker, 'utf8').trim()), (await statusOf(daemon.directory)).master.pid);
});
