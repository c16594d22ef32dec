// appctl against real daemons: every command, its JSON shape and exit code; socket permissions; one
// daemon per name; finding the daemon (none, one, several, -n, -s, APPD_SOCKET); a stale socket replaced.

import test from 'ava';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { candidateControlDirectories, temporaryDirectoryOf } from '../../shared/control/socket-path.js';
import { NoDaemonError } from '../../ctl/client/errors.js';
import { connectToDaemon } from '../../ctl/client/find-daemon.js';
import { appctl, followAppctl, spawnAppctl, statusOf } from '../helpers/appctl.js';
import { APPD, fixture, startDaemon, tempDirectory, type TestDaemon } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { runCommand } from '../helpers/other-users.js';
import { waitFor } from '../helpers/processes.js';
import { atMostAtOnce } from '../helpers/test-slots.js';

/** An uptime as appctl prints it (45s, 3m12s, 2h05m, 3d04h): on a loaded machine this test can outlast a minute. */
const UPTIME = '(?:\\d+s|\\d+m\\d\\ds|\\d+h\\d\\dm|\\d+d\\d\\dh)';

/**
 * Four tests at a time: each starts one to three daemons with their workers and runs appctl many times;
 * all fourteen at once on a loaded 2-core machine made an appctl take over 20 s to start and answer.
 */
const oneOfFour = atMostAtOnce(4);

function socketOf(daemon: TestDaemon, name: string): string {
  return join(daemon.directory, 'appd', `${name}.sock`);
}

test(
  'status --json, status, ping and config against a running daemon (upgrade: test/daemon/upgrade.test.ts)',
  oneOfFour(async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
    const pids = await daemon.waitForWorkers(2);
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });
    for (let index = 0; index < 4; index += 1) await get(daemon.url);

    // Stats arrive with heartbeats (one a second): wait until the four requests are counted and every
    // worker has sent one. Race: one worker can answer all four before the other's first heartbeat,
    // whose stats (inFlight among them) are then still null.
    const snapshot = await waitFor('the requests in the status', async () => {
      const current = await statusOf(daemon.directory);
      const workers = current.pools[0]?.workers ?? [];
      const counted = workers.reduce((sum, worker) => sum + (worker.requests ?? 0), 0);
      const everyReported = workers.length === 2 && workers.every((worker) => worker.inFlight !== null);
      return counted >= 4 && everyReported ? current : null;
    });
    t.like(snapshot, { format: 1, name: 'appd', master: { pid: daemon.pid, phase: 'running', controlSocket: socketOf(daemon, 'appd') } });
    t.deepEqual(snapshot.master.listeners, [daemon.url]);
    const pool = snapshot.pools[0];
    t.like(pool, { name: 'web', kind: 'http', desired: 2, ready: 2, generation: 1, reloading: false, restarts: 0 });
    t.deepEqual(pool?.workers.map((worker) => worker.pid).sort(), [...pids].sort());
    for (const [slot, worker] of (pool?.workers ?? []).entries()) {
      t.like(worker, {
        tag: `web.${slot} g1`,
        pool: 'web',
        slot,
        generation: 1,
        state: 'ready',
        inFlight: 0,
        restarts: 0,
        stopReason: null,
      });
      t.true(worker.uptimeMs > 0 && (worker.bootMs ?? -1) > 0);
      t.true((worker.rssBytes ?? 0) > 10 * 1024 * 1024, 'RSS read from /proc');
      t.true((worker.cpuPercent ?? -1) >= 0);
    }
    t.true((snapshot.master.rssBytes ?? 0) > 0);

    const human = await run('status');
    t.is(human.code, 0);
    t.regex(human.stdout, new RegExp(`^appd 'appd': master pid \\d+, running, up ${UPTIME}`));
    t.regex(human.stdout, /WORKER +PID +STATE +UPTIME +REQUESTS +ACTIVE +RSS +CPU +RESTARTS/);
    for (const pid of pids) t.regex(human.stdout, new RegExp(`web\\.\\d g1 +${pid} +ready`));
    t.true(
      human.stdout.split('\n').every((line) => line.length <= 80),
      human.stdout,
    );

    const ping = await run('ping');
    t.is(ping.code, 0);
    t.regex(ping.stdout, new RegExp(`^pong from appd 'appd' \\(pid ${daemon.pid}, running, up ${UPTIME}\\) in [\\d.]+ ms`));
    const pingJson = JSON.parse((await run('ping', '--json')).stdout) as { status: string; data: { pid: number } };
    t.like(pingJson, { status: 'completed', data: { pid: daemon.pid } });

    // Typed values: numbers, booleans and lists as such, not their text.
    const config = JSON.parse((await run('config', '--json')).stdout) as Record<string, { value: unknown; source: string }>;
    t.deepEqual(config['workers'], { value: 2, source: 'command line' });
    t.deepEqual(config['gracefulTimeout'], { value: 30, source: 'default' });
    t.deepEqual(config['backlog'], { value: 2048, source: 'default' });
    t.deepEqual(config['bind'], { value: ['127.0.0.1:0'], source: 'command line' });
    t.deepEqual(config['timeoutStack'], { value: true, source: 'default' });
    t.deepEqual(config['pidfile'], { value: null, source: 'default' });
    t.deepEqual(config['env'], { value: {}, source: 'default' });
    const configText = await run('config');
    t.regex(configText.stdout, /^SETTING +VALUE +SOURCE$/m);
    t.regex(configText.stdout, /^workers +2 +command line$/m);
    t.true(
      configText.stdout.split('\n').every((line) => line.length <= 80),
      configText.stdout,
    );
  }),
);

test(
  "config with pools: each pool's own settings as pools.NAME.KEY, typed in --json",
  oneOfFour(async (t) => {
    const config = `export default { timeout: 20, pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: '127.0.0.1:0', workers: 2, maxRequests: 500 },
    jobs: { command: ['sleep', '600'], workers: 1, stopSignal: 'SIGINT' },
  } };\n`;
    const daemon = await startDaemon(t, { args: ['-c', 'appd.config.mjs'], files: { 'appd.config.mjs': config } });
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });
    const json = JSON.parse((await run('config', '--json')).stdout) as Record<string, { value: unknown; source: string }>;
    t.deepEqual(json['pools.web.workers'], { value: 2, source: 'config file appd.config.mjs, pools.web' });
    t.deepEqual(json['pools.web.maxRequests'], { value: 500, source: 'config file appd.config.mjs, pools.web' });
    t.deepEqual(json['pools.web.bind'], { value: ['127.0.0.1:0'], source: 'config file appd.config.mjs, pools.web' });
    t.deepEqual(json['pools.web.timeout'], { value: 20, source: 'config file appd.config.mjs' }, 'inherited from the global value');
    t.deepEqual(json['pools.jobs.command'], { value: ['sleep', '600'], source: 'config file appd.config.mjs, pools.jobs' });
    t.deepEqual(json['pools.jobs.stopSignal'], { value: 'SIGINT', source: 'config file appd.config.mjs, pools.jobs' });
    t.is(json['pools.jobs.maxRequests'], undefined, 'a default a pool inherits is the global row');
    const text = (await run('config')).stdout;
    t.regex(text, /^pools\.web\.maxRequests +500 +config file appd\.config\.mjs, pools\.web$/m);
    t.regex(text, /^pools\.jobs\.workers +1 +config file appd\.config\.mjs, pools\.jobs$/m);
    // Not spawnSync: it would stop this file's other tests from reading their daemons while appd starts.
    const printed = await runCommand([process.execPath, APPD, '-c', 'appd.config.mjs', '--print-config'], {
      cwd: daemon.directory,
      timeoutMs: 60_000,
    });
    t.regex(printed.stdout, /^pools\.web\.workers += 2 +# config file appd\.config\.mjs, pools\.web$/m);
  }),
);

test(
  'the socket is 0600 in a 0700 directory; a second daemon of the same name is refused with the pid; the socket goes on exit',
  oneOfFour(async (t) => {
    const first = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--name', 'shop'] });
    const socket = socketOf(first, 'shop');
    t.is(statSync(socket).mode & 0o777, 0o600);
    t.true(statSync(socket).isSocket());
    t.is(statSync(join(first.directory, 'appd')).mode & 0o777, 0o700);

    const second = await startDaemon(t, {
      args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--name', 'shop'],
      env: { XDG_RUNTIME_DIR: first.directory },
      waitFor: 'nothing',
    });
    t.deepEqual(await second.exited(), { code: 2, signal: null });
    t.regex(second.output, new RegExp(`appd "shop" \\(pid ${first.pid}\\) is already running on control socket ${socket}`));
    t.is((await appctl(['ping'], { runtimeDirectory: first.directory })).code, 0, 'the first one still answers');

    first.signal('SIGTERM');
    t.deepEqual(await first.exited(), { code: 0, signal: null });
    t.false(existsSync(socket), 'the socket file is removed on exit');
  }),
);

test(
  'scale: +N, -N (not an option), N, other pools refused, never below one worker, highest slots drained',
  oneOfFour(async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });
    await daemon.waitForWorkers(2);

    const up = await run('scale', '+2');
    t.is(up.code, 0, up.stderr);
    t.regex(up.stdout, /scaling pool web from 2 to 4 workers/);
    t.regex(up.stdout, /pool web has 4 ready workers/);
    t.is(daemon.workers().length, 4, 'scale returns once the new workers are ready');

    t.is((await run('scale', 'web', '-1')).code, 0);
    t.is((await run('scale', '-1')).code, 0, '-1 is a delta, not an unknown option');
    const slots = (await statusOf(daemon.directory)).pools[0]?.workers.map((worker) => worker.slot);
    t.deepEqual(slots, [0, 1], 'the highest slots were drained');
    t.is(daemon.workers().length, 2, 'scale-down returns once the drained workers have exited');

    const floor = await run('scale', 'web', '0');
    t.is(floor.code, 0);
    t.regex(floor.stdout, /stays at its minimum of 1 worker/);
    t.is((await run('scale', '-5')).code, 0);
    t.is((await statusOf(daemon.directory)).pools[0]?.desired, 1);

    const absolute = await run('scale', 'web', '3', '--json');
    t.is(absolute.code, 0);
    t.like(JSON.parse(absolute.stdout), { status: 'completed', data: { pool: 'web', workers: 3 } });
    t.is(daemon.workers().length, 3);

    const noPool = await run('scale', 'jobs', '+1');
    t.is(noPool.code, 1);
    t.regex(noPool.stderr, /no pool named "jobs"/);
    for (const bad of [['scale'], ['scale', 'lots'], ['scale', 'web', '+x'], ['frobnicate']]) {
      const result = await run(...bad);
      t.is(result.code, 2, `appctl ${bad.join(' ')}: ${result.stderr}`);
    }
  }),
);

test(
  "scale a command pool to 0 and back (an http pool keeps 1); status shows each pool's kind and slots",
  oneOfFour(async (t) => {
    const config = `export default {
  pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, workers: 1, bind: ['127.0.0.1:0'] },
    jobs: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('queue-worker.mjs'))}], workers: 2, startSeconds: 0.2 },
  },
};
`;
    const daemon = await startDaemon(t, { args: ['--name', 'shop'], files: { 'appd.config.mjs': config } });
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });
    const before = await statusOf(daemon.directory);
    t.deepEqual(
      before.pools.map((pool) => [pool.name, pool.kind, pool.desired]),
      [
        ['web', 'http', 1],
        ['jobs', 'command', 2],
      ],
    );
    t.deepEqual(
      before.pools[1]?.slots.map((slot) => [slot.slot, slot.restarts, slot.lastExit]),
      [
        [0, 0, null],
        [1, 0, null],
      ],
    );

    const down = await run('scale', 'jobs', '0');
    t.is(down.code, 0, down.stderr);
    const stopped = await statusOf(daemon.directory);
    t.is(stopped.pools[1]?.desired, 0);
    t.deepEqual(stopped.pools[1]?.workers, []);
    t.regex((await run('scale', 'jobs', '-1')).stdout, /stays at its minimum of 0 workers/);
    t.regex((await run('scale', 'web', '-1')).stdout, /stays at its minimum of 1 worker/);
    t.is((await run('scale', 'jobs', '+3')).code, 0);
    const after = await statusOf(daemon.directory);
    t.deepEqual(
      after.pools[1]?.slots.map((slot) => slot.state),
      ['running', 'running', 'running'],
    );
    t.regex((await run('status')).stdout, /pool jobs \(command\): 3\/3 ready/);
  }),
);

test(
  'reload blocks until the new generation serves (exit 0); a broken app rolls back (exit 1) and the old one keeps serving',
  oneOfFour(async (t) => {
    const app = `export default (request, response) => response.end('generation=' + process.env.APPD_GENERATION + '\\n');\n`;
    const daemon = await startDaemon(t, { args: ['app.mjs', '-w', '2', '-b', '127.0.0.1:0'], files: { 'app.mjs': app } });
    const before = await daemon.waitForWorkers(2);
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });

    const reload = await run('reload');
    t.is(reload.code, 0, reload.stderr);
    t.regex(reload.stdout, /reading the configuration again/);
    t.regex(reload.stdout, /pool web: rolling 2 workers to generation 2/);
    t.regex(reload.stdout, /ready \(2 of 2 on generation 2\)/);
    t.regex(reload.stdout, /pool web reloaded: generation 2 serves with 2 workers/);
    const afterReload = await statusOf(daemon.directory);
    t.true(afterReload.pools[0]?.workers.filter((worker) => worker.state === 'ready').every((worker) => worker.generation === 2));
    t.is((await get(daemon.url)).body, 'generation=2\n');
    t.false(
      afterReload.pools[0]?.workers.some((worker) => before.includes(worker.pid) && worker.state === 'ready'),
      'no old worker serves',
    );

    writeFileSync(join(daemon.directory, 'app.mjs'), `throw new Error('broken on purpose');\n`);
    const broken = await run('reload', 'web', '--json');
    t.is(broken.code, 1);
    t.like(JSON.parse(broken.stdout), { status: 'rolled_back' });
    t.regex(broken.stderr, /rolled back.*broken on purpose/s);
    t.is((await get(daemon.url)).body, 'generation=2\n', 'the old generation keeps serving');
    t.is((await run('reload', 'nosuch')).code, 1);
  }),
);

test(
  'an appctl killed in the middle of a reload leaves no half-done work: the daemon finishes the job',
  oneOfFour(async (t) => {
    const daemon = await startDaemon(t, {
      args: [`${fixture('slow-boot-app.mjs')}:create()`, '-w', '2', '-b', '127.0.0.1:0'],
      env: { BOOT_DELAY_MS: '700' },
    });
    const reload = followAppctl(t, ['reload'], { runtimeDirectory: daemon.directory });
    await waitFor('the reload to start', () => reload.output().includes('rolling 2 workers to generation 2'));
    reload.child.kill('SIGKILL');
    await daemon.waitForLog(/pool web reloaded: generation 2 serves with 2 workers/, 20_000);
    t.regex((await get(daemon.url)).body, /generation=2/);
  }),
);

test(
  "logs POOL.SLOT: one slot's output and the master's lines about it, as top shows a worker",
  oneOfFour(async (t) => {
    // Each slot gets its own socket (--slot-bind), so the marks reach the worker the test names: on a
    // shared socket the kernel may wake the same worker for every request (it gave web.1 eight in a row).
    const daemon = await startDaemon(t, {
      args: [fixture('print-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--slot-bind', 'unix:web.{slot}.sock'],
    });
    await daemon.waitForWorkers(2);
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });
    type Line = { source: string; text: string };
    const marks = ['mark-a', 'mark-b', 'mark-c', 'mark-d'];
    for (const [index, mark] of marks.entries()) {
      const slot = index % 2;
      t.is(
        (await get(`http://localhost/print?text=${mark}`, { socketPath: join(daemon.directory, `web.${slot}.sock`), timeoutMs: 30_000 }))
          .status,
        200,
      );
    }
    // The master relays a worker's output asynchronously: wait until the ring holds every mark.
    await waitFor(
      "the marks in the master's ring",
      async () => {
        const all = await run('logs', '--json', '--lines', '1000');
        return marks.every((mark) => all.stdout.includes(`"${mark} 0"`));
      },
      30_000,
      200,
    );
    const slot = await run('logs', 'web.1', '--json', '--lines', '1000');
    t.is(slot.code, 0, slot.stderr);
    const lines = slot.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Line);
    t.deepEqual(
      lines.filter((line) => line.text.startsWith('mark-')).map((line) => line.text),
      ['mark-b 0', 'mark-d 0'],
    );
    t.true(
      lines.every((line) => line.source === 'web.1 g1' || (line.source === 'master' && /\bweb\.1\b/.test(line.text))),
      slot.stdout,
    );
    t.true(
      lines.some((line) => line.source === 'master' && /^worker web\.1 g1 \(pid \d+\) ready in \d+ms$/.test(line.text)),
      "the master's line about it, in whole milliseconds",
    );
    const unknown = await run('logs', 'nosuch.1');
    t.is(unknown.code, 1);
    t.is(unknown.stderr, 'appctl: no pool named "nosuch.1", nor a slot POOL.N of one (pools: web)\n');
  }),
);

test(
  'logs shows the ring buffer (all, one pool, --json); logs -f follows until the daemon stops',
  oneOfFour(async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('print-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
    const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory });
    await get(`${daemon.url}/print?text=early-marker&count=3`);
    await daemon.waitForLog(/early-marker 2/);

    const all = await run('logs');
    t.is(all.code, 0);
    t.regex(all.stdout, /\[INFO\] ready: 1 worker ready/);
    t.regex(all.stdout, /\[\d+\] \[web\.0 g1\] early-marker 0\n.*early-marker 1\n.*early-marker 2\n/);
    const pool = await run('logs', 'web', '--lines', '2');
    t.deepEqual(
      pool.stdout
        .trim()
        .split('\n')
        .map((line) => line.replace(/^.*\] /, '')),
      ['early-marker 1', 'early-marker 2'],
    );
    const json = await run('logs', 'web', '--lines', '1', '--json');
    t.like(JSON.parse(json.stdout.trim()), { source: 'web.0 g1', level: 'stdout', text: 'early-marker 2' });
    t.is((await run('logs', 'nosuch')).code, 1);
    // `appctl logs | head -1`: a reader that goes away ends appctl quietly.
    const headless = spawnAppctl(['logs'], { runtimeDirectory: daemon.directory });
    headless.stdout?.destroy();
    let headlessErrors = '';
    headless.stderr?.setEncoding('utf8').on('data', (text: string) => (headlessErrors += text));
    t.is(await new Promise((settle) => headless.on('close', settle)), 0);
    t.is(headlessErrors, '');

    const follower = followAppctl(t, ['logs', '-f', 'web', '--lines', '1'], { runtimeDirectory: daemon.directory });
    // The recent line arrives in the same turn of the master's loop as the subscription starts.
    await waitFor('the follower to subscribe', () => follower.output().includes('early-marker 2'));
    t.notRegex(follower.output(), /early-marker 1/, '--lines 1 starts with one line');
    await get(`${daemon.url}/print?text=live-marker&count=2`);
    await waitFor('the followed line', () => follower.output().includes('live-marker 1'));
    daemon.signal('SIGTERM');
    t.is(await follower.exited, 0, 'logs -f ends with exit 0 when the daemon stops');
  }),
);

test(
  'events streams every worker state change, starting with the current ones',
  oneOfFour(async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
    const [first] = await daemon.waitForWorkers(1);
    const events = followAppctl(t, ['events', '--json'], { runtimeDirectory: daemon.directory });
    const parsed = () =>
      events
        .output()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { tag: string; state: string; pid: number; detail: string | null });
    await waitFor('the current state', () => parsed().length > 0);
    t.like(parsed()[0], { tag: 'web.0 g1', state: 'ready', pid: first });
    // Scripts may read a line's fields in order: the order is part of the --json contract.
    t.deepEqual(Object.keys(parsed()[0] ?? {}), ['time', 'tag', 'pool', 'slot', 'generation', 'pid', 'state', 'detail']);
    t.is((await appctl(['scale', '+1'], { runtimeDirectory: daemon.directory })).code, 0);
    t.is((await appctl(['scale', '-1'], { runtimeDirectory: daemon.directory })).code, 0);
    await waitFor('web.1 to exit', () => parsed().some((event) => event.tag === 'web.1 g1' && event.state === 'exited'));
    t.deepEqual(
      parsed()
        .filter((event) => event.tag === 'web.1 g1')
        .map((event) => [event.state, event.detail]),
      [
        ['starting', null],
        ['ready', null],
        ['stopping', 'scaled down to 1'],
        ['exited', 'exit code 0'],
      ],
    );
    const human = await appctl(['events', '--timeout', '1'], { runtimeDirectory: daemon.directory });
    t.is(human.code, 0, '--timeout ends a stream with exit 0');
    t.regex(human.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\d [\\d:]+ web\\.0 g1 \\(pid ${first}\\) ready$`, 'm'));
  }),
);

test(
  'stop waits until the daemon let go of port and socket; stop --quick',
  oneOfFour(async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('slow-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
    const port = daemon.port;
    const slow = get(`${daemon.url}/?delay=600`);
    await new Promise((settle) => setTimeout(settle, 150));
    const stop = await appctl(['stop'], { runtimeDirectory: daemon.directory });
    t.is(stop.code, 0, stop.stderr);
    t.regex(stop.stdout, /graceful stop .*\nstopped\n$/);
    t.is((await slow).body, 'slept 600ms\n', 'the in-flight request finished');
    t.false(existsSync(socketOf(daemon, 'appd')));
    await t.throwsAsync(get(`http://127.0.0.1:${port}/`), { code: 'ECONNREFUSED' });
    t.deepEqual(await daemon.exited(), { code: 0, signal: null });

    const quick = await startDaemon(t, { args: [fixture('slow-app.mjs'), '-w', '1', '-b', '127.0.0.1:0'] });
    const result = await appctl(['stop', '--quick', '--json'], { runtimeDirectory: quick.directory });
    t.is(result.code, 0);
    t.like(JSON.parse(result.stdout), { status: 'completed', message: 'stopped' });
    t.deepEqual(await quick.exited(), { code: 0, signal: null });
  }),
);

test(
  'no daemon: exit 3 and a message saying where appctl looked and what to do',
  oneOfFour(async (t) => {
    const empty = tempDirectory(t);
    const run = (args: string[], env: Record<string, string> = {}) => appctl(args, { runtimeDirectory: empty, env });
    // A name no other daemon on this machine uses: -n also looks in /run/appd and $TMPDIR/appd-UID.
    const named = await run(['-n', 'nobody-runs-this', 'ping']);
    t.is(named.code, 3);
    t.regex(
      named.stderr,
      new RegExp(
        `^appctl: no appd running with name 'nobody-runs-this' \\(looked in ${join(empty, 'appd', 'nobody-runs-this.sock')}.*\\); start one with appd or pass -s\n$`,
      ),
    );
    const explicit = await run(['-s', join(empty, 'nothing.sock'), 'ping', '--json']);
    t.is(explicit.code, 3);
    t.like(JSON.parse(explicit.stdout), { status: 'error', exitCode: 3 });
    t.regex(explicit.stderr, /no appd is listening on .*nothing\.sock \(no such socket\)/);
    t.is((await run(['reload'], { APPD_SOCKET: join(empty, 'gone.sock') })).code, 3);
  }),
);

test(
  'no daemon and no name: every directory is named (found in-process, so no daemon elsewhere on the machine interferes)',
  oneOfFour(async (t) => {
    const empty = tempDirectory(t);
    const context = { environment: { XDG_RUNTIME_DIR: empty }, uid: 1234, temporaryDirectory: join(empty, 'tmp') };
    const error = await t.throwsAsync(connectToDaemon({}, context), { instanceOf: NoDaemonError });
    t.is(
      error?.message,
      `no appd running (looked in ${join(empty, 'appd')}, ${join(empty, 'tmp', 'appd-1234')}); start one with appd, or pass -n NAME or -s SOCKET`,
    );
    t.is(error?.exitCode, 3);
    t.deepEqual(candidateControlDirectories({ environment: {}, uid: 0, temporaryDirectory: '/tmp' }), ['/run/appd', '/tmp/appd-0']);
    t.deepEqual(candidateControlDirectories({ environment: { XDG_RUNTIME_DIR: 'relative' }, uid: 5, temporaryDirectory: '/t' }), [
      '/t/appd-5',
    ]);
  }),
);

test('the temporary directory appctl and the master look in is what os.tmpdir() answers, for every environment', (t) => {
  const names = ['TMPDIR', 'TMP', 'TEMP'] as const;
  const saved = names.map((name) => process.env[name]);
  const cases: Array<Partial<Record<(typeof names)[number], string>>> = [
    {},
    { TMPDIR: '/var/tmp' },
    { TMPDIR: '/var/tmp/' },
    { TMPDIR: '/' },
    { TMPDIR: '', TMP: '/scratch//' },
    { TEMP: '/temp' },
    { TMP: '/a', TEMP: '/b' },
  ];
  try {
    for (const values of cases) {
      // os.tmpdir() reads process.env when called: set it synchronously, so no other test sees it.
      for (const name of names) {
        const value = values[name];
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      t.is(temporaryDirectoryOf(process.env), tmpdir(), JSON.stringify(values));
    }
  } finally {
    names.forEach((name, index) => {
      const value = saved[index];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    });
  }
});

test(
  'one daemon needs no -n; several are listed; -n, -s and APPD_SOCKET choose; a stale socket is replaced',
  oneOfFour(async (t) => {
    const alpha = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '-n', 'alpha'] });
    const runtimeDirectory = alpha.directory;
    t.regex((await appctl(['ping'], { runtimeDirectory })).stdout, /pong from appd 'alpha'/);
    const beta = await startDaemon(t, {
      args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '-n', 'beta'],
      env: { XDG_RUNTIME_DIR: runtimeDirectory },
    });

    const ambiguous = await appctl(['status'], { runtimeDirectory });
    t.is(ambiguous.code, 2);
    t.regex(ambiguous.stderr, /2 appd daemons are running; say which with -n NAME/);
    t.regex(ambiguous.stderr, new RegExp(`alpha +pid ${alpha.pid}`));
    t.regex(ambiguous.stderr, new RegExp(`beta +pid ${beta.pid}`));
    t.regex((await appctl(['-n', 'beta', 'ping'], { runtimeDirectory })).stdout, new RegExp(`pid ${beta.pid}`));
    t.regex((await appctl(['ping', '-s', socketOf(alpha, 'alpha')], { runtimeDirectory })).stdout, new RegExp(`pid ${alpha.pid}`));
    t.regex(
      (await appctl(['ping'], { runtimeDirectory, env: { APPD_SOCKET: socketOf(alpha, 'beta') } })).stdout,
      new RegExp(`pid ${beta.pid}`),
    );

    // A master killed with SIGKILL leaves its socket file behind: the next start replaces it.
    beta.signal('SIGKILL');
    await beta.exited();
    t.true(existsSync(socketOf(alpha, 'beta')), 'the stale socket is still there');
    t.regex((await appctl(['ping'], { runtimeDirectory })).stdout, /alpha/, 'a stale socket does not count as a daemon');
    const again = await startDaemon(t, {
      args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '-n', 'beta'],
      env: { XDG_RUNTIME_DIR: runtimeDirectory },
    });
    t.regex(again.output, /replaced a stale control socket/);
    t.regex((await appctl(['-n', 'beta', 'ping'], { runtimeDirectory })).stdout, new RegExp(`pid ${again.pid}`));
  }),
);
