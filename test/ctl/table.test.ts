// appctl's text tables (ctl/render/table.ts): the wrapping column takes what is left of 80 columns, but
// never so little that short values break. Runs in the ava test process.

import test from 'ava';
import { renderTable } from '../../ctl/render/table.js';

const COLUMNS = [{ header: 'SETTING' }, { header: 'VALUE', wrap: true }, { header: 'SOURCE' }];

test('a long value wraps to fit 80 columns', (t) => {
  const lines = renderTable(COLUMNS, [['bind', 'a'.repeat(30) + ', ' + 'b'.repeat(30), 'command line']]);
  t.true(
    lines.every((line) => line.length <= 80),
    lines.join('\n'),
  );
  t.is(lines.length, 3, 'header, the value, its continuation');
});

test("a long source (a config file's absolute path) leaves the value column room: (none) is never cut", (t) => {
  const source = 'config file /tmp/tmp.Yj00y9HQH0/appd.config.mjs, pools.jobs';
  const lines = renderTable(COLUMNS, [
    ['pools.jobs.workers', '1', source],
    ['onExit', '(none)', 'default'],
  ]);
  t.is(lines.length, 3, `no continuation line:\n${lines.join('\n')}`);
  t.regex(lines[2] ?? '', /^onExit +\(none\) +default$/);
});
