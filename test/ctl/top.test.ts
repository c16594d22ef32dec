// appctl top in a real terminal (tmux, 80x24) against real daemons: what the screen shows matches
// `appctl status --json`; + scales, r reloads, k restarts a worker, q exits 0; it resizes, survives
// the daemon going away and reconnects to its successor; without a terminal it prints plain frames.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import type { StatusSnapshot } from '../../shared/control/status.js';
import { appctl, followAppctl, statusOf } from '../helpers/appctl.js';
import { APPCTL, fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { isAlive, killQuietly, waitFor } from '../helpers/processes.js';
import { TmuxPane } from '../helpers/tmux.js';

const tmuxInstalled = spawnSync('tmux', ['-V']).status === 0;
const tmuxTest = tmuxInstalled ? test : test.skip;
if (!tmuxInstalled) test('tmux is installed (the dashboard tests need it; .ci/run installs it)', (t) => t.fail('tmux not found'));

interface ShownWorker {
  readonly tag: string;
  readonly pid: number;
  readonly state: string;
}

/** The worker rows of the screen: "> web.0 g1  12345  ready ..." */
function shownWorkers(screen: string): ShownWorker[] {
  return [...screen.matchAll(/^[> ] (\S+\.\d+ g\d+) +(\d+) +(\w+)/gm)].map((match) => ({
    tag: match[1] ?? '',
    pid: Number(match[2]),
    state: match[3] ?? '',
  }));
}

function statusWorkers(snapshot: StatusSnapshot): ShownWorker[] {
  return snapshot.pools.flatMap((pool) => pool.workers.map((worker) => ({ tag: worker.tag, pid: worker.pid, state: worker.state })));
}

/** Waits until the screen and a fresh `status --json` show the same workers and `accept` holds for them. */
async function screenMatchesStatus(
  pane: TmuxPane,
  daemon: TestDaemon,
  accept: (workers: readonly ShownWorker[]) => boolean,
): Promise<{ screen: string; workers: ShownWorker[] }> {
  let last = '';
  return waitFor(
    'the screen to match appctl status --json',
    async () => {
      const expected = statusWorkers(await statusOf(daemon.directory));
      const screen = pane.capture();
      last = `status --json: ${JSON.stringify(expected)}\n--- screen ---\n${screen}`;
      const shown = shownWorkers(screen);
      return JSON.stringify(shown) === JSON.stringify(expected) && accept(shown) ? { screen, workers: shown } : null;
    },
    20_000,
    200,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${last}`);
  });
}

function topPane(t: Parameters<typeof TmuxPane.start>[0], runtimeDirectory: string, args: readonly string[] = []): TmuxPane {
  return TmuxPane.start(t, {
    command: [process.execPath, APPCTL, ...args, 'top'],
    env: { XDG_RUNTIME_DIR: runtimeDirectory },
    width: 80,
    height: 24,
  });
}

tmuxTest('appctl top shows the workers of status --json; + adds one, r rolls the generation, q exits 0', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
  const pane = topPane(t, daemon.directory);

  const first = await screenMatchesStatus(
    pane,
    daemon,
    (workers) => workers.length === 2 && workers.every((worker) => worker.state === 'ready'),
  );
  const rows = first.screen.replace(/\n$/, '').split('\n');
  t.is(rows.length, 24, 'the frame fills the 24 rows');
  t.true(
    rows.every((row) => row.length <= 80),
    'no row is wider than the terminal',
  );
  t.regex(first.screen, new RegExp(`^appd 'appd' \\S+ · master ${daemon.pid} · running`));
  t.regex(first.screen, /^> web +http +2\/2 +1 +ok /m, 'the pool row, selected');
  t.regex(first.screen, /^↑↓ select {2}\+- scale {2}r reload {2}k restart {2}u upgrade {2}l logs {2}\? help {2}q quit/m);
  t.regex(first.screen, /── logs: pool web ─+/);

  pane.sendKeys('+');
  const scaled = await screenMatchesStatus(
    pane,
    daemon,
    (workers) => workers.length === 3 && workers.every((worker) => worker.state === 'ready'),
  );
  t.deepEqual(
    scaled.workers.slice(0, 2).map((worker) => worker.pid),
    first.workers.map((worker) => worker.pid),
    'the first two kept serving',
  );
  await pane.waitForScreen('the scale outcome', (screen) => /scale web \+1: pool web has 3 ready workers/.test(screen));

  pane.sendKeys('r');
  await pane.waitForScreen('reload progress on the message line', (screen) => /reload web: /.test(screen));
  const reloaded = await screenMatchesStatus(
    pane,
    daemon,
    (workers) => workers.length === 3 && workers.every((worker) => worker.tag.endsWith(' g2') && worker.state === 'ready'),
  );
  t.true(
    reloaded.workers.every((worker) => !first.workers.some((old) => old.pid === worker.pid)),
    'every worker was replaced',
  );
  const settled = await pane.waitForScreen('the reload outcome', (screen) =>
    /reload web: pool web reloaded: generation 2 serves/.test(screen) ? screen : null,
  );
  t.regex(settled, /^> web +http +3\/3 +2 +ok /m);
  t.regex(settled, / · gen 2 · /);
  t.is((await statusOf(daemon.directory)).pools[0]?.generation, 2);

  pane.sendKeys('q');
  t.is(await pane.exitCode(), 0);
  t.true(isAlive(daemon.pid), 'the daemon keeps running');
});

tmuxTest(
  'appctl top: k restarts the selected worker; it resizes; losing the daemon shows DISCONNECTED, and it reconnects to the next one',
  async (t) => {
    const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0', '--name', 'topd'] });
    const pane = topPane(t, daemon.directory, ['-n', 'topd']);
    const before = await screenMatchesStatus(
      pane,
      daemon,
      (workers) => workers.length === 2 && workers.every((worker) => worker.state === 'ready'),
    );
    const old = before.workers[1];

    pane.sendKeys('Down', 'Down');
    await pane.waitForScreen(
      'web.1 selected, its log pane',
      (screen) => new RegExp(`^> web\\.1 g1 +${old?.pid}`, 'm').test(screen) && screen.includes(`logs: web.1 g1 pid ${old?.pid}`),
    );
    pane.sendKeys('k');
    const after = await screenMatchesStatus(
      pane,
      daemon,
      (workers) => workers.length === 2 && workers[1]?.pid !== old?.pid && workers.every((worker) => worker.state === 'ready'),
    );
    t.is(after.workers[0]?.pid, before.workers[0]?.pid, 'web.0 untouched');
    await pane.waitForScreen('the restart outcome', (screen) =>
      new RegExp(`restart web\\.1: web\\.1 restarted: web\\.1 g1 \\(pid ${after.workers[1]?.pid}\\)`).test(screen),
    );
    await waitFor('the old web.1 to exit', () => !isAlive(old?.pid ?? -1));

    pane.resize(120, 40);
    const wide = await pane.waitForScreen('the wider frame', (screen) => {
      const rows = screen.replace(/\n$/, '').split('\n');
      return rows.length === 40 && rows.some((row) => row.length > 100) ? rows : null;
    });
    t.true(wide.every((row) => row.length <= 120));
    pane.resize(80, 24);

    t.is((await appctl(['-n', 'topd', 'stop'], { runtimeDirectory: daemon.directory })).code, 0);
    await pane.waitForScreen(
      'DISCONNECTED',
      (screen) => /DISCONNECTED/.test(screen) && /disconnected from appd 'topd' \(pid \d+\) \d+s ago/.test(screen),
    );
    const successor = await startDaemon(t, {
      args: [fixture('pid-app.mjs'), '-w', '1', '-b', '127.0.0.1:0', '--name', 'topd'],
      env: { XDG_RUNTIME_DIR: daemon.directory },
    });
    const reconnected = await pane.waitForScreen('the successor on screen', (screen) =>
      new RegExp(`master ${successor.pid} · running`).test(screen) && !/DISCONNECTED/.test(screen) ? screen : null,
    );
    t.deepEqual(
      shownWorkers(reconnected).map((worker) => worker.pid),
      statusWorkers(await statusOf(daemon.directory)).map((worker) => worker.pid),
    );

    pane.sendKeys('q');
    t.is(await pane.exitCode(), 0);
  },
);

test('without a terminal (TERM=dumb, piped), appctl top prints plain frames until interrupted; --json is refused', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
  const pids = await daemon.waitForWorkers(2);
  const top = followAppctl(t, ['top'], { runtimeDirectory: daemon.directory, env: { TERM: 'dumb', LANG: 'C' } });
  // appctl's start-up and the first status push can take many seconds on a loaded machine: a generous wait.
  await waitFor(
    'a frame with both workers',
    () => pids.every((pid) => new RegExp(`web\\.\\d g1 +${pid} +ready`).test(top.output())),
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- appctl top printed ---\n${top.output()}`);
  });
  t.regex(top.output(), new RegExp(`^appd 'appd' \\S+ \\| master ${daemon.pid} \\| running`, 'm'));
  t.false(top.output().includes('\u001b'), 'no terminal escapes');
  killQuietly(top.child.pid ?? -1, 'SIGINT');
  t.is(await top.exited, 0);

  const json = await appctl(['top', '--json'], { runtimeDirectory: daemon.directory });
  t.is(json.code, 2);
  t.regex(json.stderr, /top is interactive; for scripts use appctl status --json/);
});
