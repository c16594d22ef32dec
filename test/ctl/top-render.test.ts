// The pure parts of `appctl top` without a terminal: sparklines, request rates from heartbeat counters,
// column dropping, frames that fit exactly, the selection across replacements, log filtering, escaping
// and the key table.

import test from 'ava';
import { omittedLinesText, type LogLineMessage } from '../../shared/control/protocol.js';
import { sparkline } from '../../ctl/render/sparkline.js';
import { layoutTable, type TableColumn } from '../../ctl/top/columns.js';
import { StatsHistory } from '../../ctl/top/history.js';
import { KEY_BINDINGS, KEY_COMMANDS } from '../../ctl/top/keys.js';
import { logFilter, visibleLines } from '../../ctl/top/log-pane.js';
import { TopModel } from '../../ctl/top/model.js';
import { renderDashboard, renderPlainFrame } from '../../ctl/top/render.js';
import { plainPainter, tagPainter } from '../../ctl/top/style.js';
import { statusSnapshot, workerStatus } from '../helpers/status-fixture.js';

const DAEMON = { name: 'shop', pid: 100, version: '0.1.0', node: 'v20.0.0' };

/** Removes blessed tags as blessed would before measuring ({open} and {close} are one character each). */
function visible(line: string): string {
  return line.replace(/\{(\/?[a-z-]+)\}/g, (_tag, name: string) => (name === 'open' ? '{' : name === 'close' ? '}' : ''));
}

test('sparklines scale from zero, gaps stay blank, ASCII without UTF-8', (t) => {
  t.is(sparkline([0, 5, 10], 5, { unicode: true }), '  ▁▅█');
  t.is(sparkline([100, 110, 120], 3, { unicode: true }), '▇▇█', 'a rise of a fifth is a step near the top, not a ramp from the bottom');
  t.is(sparkline([null, 4, 4], 3, { unicode: true }), ' ██', 'a steady value is at the top of its own scale');
  t.is(sparkline([0, 0], 2, { unicode: false }), '__');
  t.is(sparkline([1, 2, 3, 4], 2, { unicode: false }), '=#', 'only the newest that fit');
});

/** The master RSS chart of an 80x24 dashboard after one snapshot a second with these totals (master + worker). */
function rssChart(totals: readonly number[]): string {
  const model = new TopModel(DAEMON);
  totals.forEach((total, index) => model.update(statusSnapshot([workerStatus(0, 200, { rssBytes: total - 50e6 })]), 1000 * (index + 1)));
  const line =
    renderDashboard(model, { width: 80, height: 24 }, plainPainter(true), 1000 * totals.length).find((each) => each.startsWith('req/s')) ??
    '';
  return (/ rss +([▁▂▃▄▅▆▇█]+) +\S+ *$/.exec(line)?.[1] ?? `no rss chart in: ${line}`).trim();
}

test("top's RSS chart starts at zero: 344 MB then 345 MB is flat, a 20% rise a step, not a wall from the bottom", (t) => {
  const flat = rssChart([...Array.from({ length: 10 }, () => 344 * 2 ** 20), ...Array.from({ length: 10 }, () => 345 * 2 ** 20)]);
  t.is(new Set(flat).size, 1, `a 0.3% change draws no ramp: ${flat}`);
  const rise = rssChart([...Array.from({ length: 10 }, () => 300e6), ...Array.from({ length: 10 }, () => 360e6)]);
  t.is(rise, `${'▇'.repeat(10)}${'█'.repeat(10)}`);
});
test('request rates come from the heartbeat counters and their age, not from when snapshots arrive', (t) => {
  const history = new StatsHistory();
  history.record(statusSnapshot([workerStatus(0, 11, { requests: 100, statsAgeMs: 200 })]), 10_000);
  t.is(history.rate(11), null, 'one count is no rate yet');
  history.record(statusSnapshot([workerStatus(0, 11, { requests: 300, statsAgeMs: 100 })]), 10_900);
  t.is(history.rate(11), 200, '200 requests counted 1.0 s apart');
  history.record(statusSnapshot([workerStatus(0, 11, { requests: 300, statsAgeMs: 600 })]), 11_400);
  t.is(history.rate(11), 200, 'the same heartbeat again: the rate stands (no 0, 2x, 0 aliasing)');
  history.record(statusSnapshot([workerStatus(0, 12)]), 12_600);
  t.is(history.rate(11), null, 'a worker that is gone is forgotten');
  t.deepEqual(history.total.rate.values, [null, 200, null], 'one sample per second at most (11.4 s came too soon after 10.9 s)');
});

test('narrow terminals drop the least important columns; the flexible column takes what is left', (t) => {
  const columns: TableColumn<string>[] = [
    { header: 'NAME', align: 'left', priority: 100, text: (row) => row },
    { header: 'DETAIL', align: 'left', priority: 20, text: () => 'x'.repeat(20) },
    { header: 'TREND', align: 'left', priority: 10, text: () => '', flexible: { minimum: 6, maximum: 30, draw: () => '' } },
  ];
  t.deepEqual(layoutTable(columns, ['web'], 80).widths, [4, 20, 30]);
  t.deepEqual(layoutTable(columns, ['web'], 40).widths, [4, 20, 10]);
  t.deepEqual(
    layoutTable(columns, ['web'], 30).columns.map((column) => column.header),
    ['NAME', 'DETAIL'],
  );
  t.deepEqual(
    layoutTable(columns, ['web'], 12).columns.map((column) => column.header),
    ['NAME'],
  );
});

test('every frame is exactly the terminal size, from 40x10 to 200x60, with 16 workers and colours', (t) => {
  const model = new TopModel(DAEMON);
  model.update(statusSnapshot(Array.from({ length: 16 }, (_unused, slot) => workerStatus(slot, 200 + slot))), 1000);
  model.addLogs([{ time: 0, source: 'web.3 g1', pid: 203, level: 'stdout', text: 'a {brace} and \u001b[31mred\u001b[0m\ttab' }], false);
  for (const [width, height] of [
    [40, 10],
    [80, 24],
    [100, 30],
    [200, 60],
  ] as const) {
    for (const painter of [tagPainter(true, true), tagPainter(false, false)]) {
      const lines = renderDashboard(model, { width, height }, painter, 2000).map(visible);
      t.is(lines.length, height, `${width}x${height}`);
      for (const line of lines) t.true(line.length <= width, `${width}x${height}: ${line}`);
    }
  }
  t.regex(renderDashboard(model, { width: 39, height: 24 }, plainPainter(true), 0)[0] ?? '', /appctl top needs 40x10/);
});

test('at 40x10 with more workers than rows, the workers header is whole column names and the note, no half word', (t) => {
  const model = new TopModel(DAEMON);
  model.update(statusSnapshot(Array.from({ length: 6 }, (_unused, slot) => workerStatus(slot, 2900 + slot))), 1000);
  for (const selected of [0, 7]) {
    model.moveTo(selected);
    const lines = renderDashboard(model, { width: 40, height: 10 }, plainPainter(true), 2000);
    const header = lines.find((line) => line.trimStart().startsWith('WORKER')) ?? '';
    const match = /^ +(.*?) +((?:\d+ ↑ )?(?:\d+ ↓ )?more)$/.exec(header);
    t.truthy(match, `a note at the right end: "${header}"`);
    const names = (match?.[1] ?? '').split(/ +/);
    const known = ['WORKER', 'PID', 'STATE', 'UP', 'REQ/S', 'ACT', 'LOOP', 'RSS', 'CPU%', 'RST', 'TREND'];
    t.deepEqual(
      names.filter((name) => !known.includes(name)),
      [],
      `whole headers only: "${header}"`,
    );
    // Each row has exactly the columns its header names.
    const row = lines.find((line) => /web\.\d g1/.test(line)) ?? '';
    const cells = row
      .replace(/^[> ] /, '')
      .replace(/(web\.\d) (g1)/, '$1_$2')
      .trim()
      .split(/ +/);
    t.is(cells.length, names.length, `"${header}" over "${row}"`);
  }
});

test('the workers table scrolls to the selection; a replaced worker keeps the selection on its slot', (t) => {
  const model = new TopModel(DAEMON);
  model.update(statusSnapshot(Array.from({ length: 16 }, (_unused, slot) => workerStatus(slot, 200 + slot))), 1000);
  model.moveTo(16);
  const frame = renderDashboard(model, { width: 80, height: 24 }, plainPainter(true), 0).join('\n');
  t.regex(frame, /^> web\.15 g1 +215 +ready/m);
  t.regex(frame, /\d+ ↑ more/);
  model.update(statusSnapshot(Array.from({ length: 16 }, (_unused, slot) => workerStatus(slot, slot === 15 ? 999 : 200 + slot))), 2000);
  t.like(model.selected, { kind: 'worker', worker: { pid: 999 } });
});

test('the log pane shows the selected worker or pool: its output and what the master says of it', (t) => {
  const model = new TopModel(DAEMON);
  model.update(statusSnapshot([workerStatus(0, 200), workerStatus(1, 201)]), 1000);
  const line = (source: string, pid: number, text: string): LogLineMessage => ({
    time: 0,
    source,
    pid,
    level: source === 'master' ? 'info' : 'stdout',
    text,
  });
  const lines = [
    line('master', 100, 'scaling pool web from 1 to 2 workers'),
    line('web.0 g1', 200, 'zero says hi'),
    line('web.1 g1', 201, 'one says hi'),
    line('master', 100, 'worker web.1 g1 (pid 201) ready in 50ms'),
    line('master', 100, 'Control socket: /run/webhooks.sock'),
  ];
  const texts = (index: number) => (model.moveTo(index), visibleLines(lines, logFilter(model.selected), 10).map((each) => each.text));
  t.deepEqual(texts(0), ['scaling pool web from 1 to 2 workers', 'zero says hi', 'one says hi', 'worker web.1 g1 (pid 201) ready in 50ms']);
  t.deepEqual(texts(2), ['one says hi', 'worker web.1 g1 (pid 201) ready in 50ms']);

  // The daemon's note of lines it left out goes to the pane's title, not into the flood it reports.
  model.addLogs(
    [line('web.1 g1', 201, 'flood'), { time: 5000, source: 'master', pid: 100, level: 'warning', text: omittedLinesText(4800, 200) }],
    false,
  );
  t.deepEqual(
    model.logs.map((each) => each.text),
    ['flood'],
  );
  t.regex(
    renderDashboard(model, { width: 80, height: 24 }, plainPainter(true), 6000).join('\n'),
    /── logs: web\.1 g1 pid 201 ─ sampled: 4800 lines\/s left out ─/,
  );
  t.notRegex(
    renderDashboard(model, { width: 80, height: 24 }, plainPainter(true), 9000).join('\n'),
    /sampled/,
    'only while the daemon keeps saying so',
  );
});

test('plain frames carry no tags; every key command is bound once, and keys are not bound twice', (t) => {
  const model = new TopModel(DAEMON);
  model.update(statusSnapshot([workerStatus(0, 200)]), 1000);
  const frame = renderPlainFrame(model, 80, plainPainter(false), 0).join('\n');
  t.regex(frame, /^appd 'shop' 0\.1\.0 \| master 100 \| running/);
  t.false(/\{\/?[a-z-]+\}/.test(frame));
  t.deepEqual([...new Set(KEY_BINDINGS.map((binding) => binding.command))].sort(), [...KEY_COMMANDS].sort());
  const keys = KEY_BINDINGS.flatMap((binding) => binding.keys);
  t.is(new Set(keys).size, keys.length);
});
