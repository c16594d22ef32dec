// Unit tests of the settings machinery: value kinds, bind addresses, APPD_CMD_ARGS splitting,
// closest-key suggestions, and the table's own invariants.

import test from 'ava';
import { parseBindAddress } from '../../shared/bind-address.js';
import { closestName } from '../../shared/config/closest-key.js';
import { splitShellWords } from '../../shared/config/shell-words.js';
import { kebabCase, SECTIONS } from '../../shared/settings/define.js';
import { InvalidValue, kinds } from '../../shared/settings/kinds.js';
import { SETTINGS } from '../../shared/settings/table.js';

test('bind addresses in every documented form', (t) => {
  t.like(parseBindAddress('127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000 });
  t.like(parseBindAddress('[::1]:0'), { kind: 'tcp', host: '::1', port: 0 });
  t.like(parseBindAddress(':80'), { kind: 'tcp', host: null, port: 80 });
  t.like(parseBindAddress('tcp://localhost:9'), { kind: 'tcp', host: 'localhost', port: 9 });
  t.like(parseBindAddress('unix:/run/app.sock'), { kind: 'unix', path: '/run/app.sock' });
  t.like(parseBindAddress('unix:///run/app.sock'), { kind: 'unix', path: '/run/app.sock' });
  t.like(parseBindAddress('fd://3'), { kind: 'fd', fd: 3 });
  t.throws(() => parseBindAddress('127.0.0.1'), { message: /has no port/ });
  t.throws(() => parseBindAddress('::1:80'), { message: 'IPv6 addresses need brackets: write [::1]:80' });
  t.throws(() => parseBindAddress('host:99999'), { message: /invalid port "99999"/ });
  t.throws(() => parseBindAddress('fd://1'), { message: /N >= 3/ });
});

test('value kinds parse flags and config values, and reject nonsense', (t) => {
  t.is(kinds.seconds.parse('500ms'), 0.5);
  t.is(kinds.seconds.parse('2m'), 120);
  t.is(kinds.seconds.parse(1.5), 1.5);
  t.throws(() => kinds.seconds.parse('-1'), { instanceOf: InvalidValue });
  t.is(kinds.bytes.parse('512M'), 512 * 1024 * 1024);
  t.is(kinds.bytes.format(1024 ** 3), '1G');
  t.is(kinds.octalMode.parse('0660'), 0o660);
  t.is(kinds.octalMode.format(0o600), '0600');
  t.is(kinds.workerCount.parse('auto'), 'auto');
  t.is(kinds.workerCount.parse('4'), 4);
  t.true(kinds.boolean.parse('yes'));
  t.deepEqual(kinds.environment.parse(['A=1', 'B=x=y']), { A: '1', B: 'x=y' });
  t.deepEqual(kinds.environment.parse({ C: 3 }), { C: '3' });
  t.throws(() => kinds.environment.parse(['novalue']), { message: 'expected KEY=VALUE, got "novalue"' });
  t.throws(() => kinds.name.parse('has space'), { instanceOf: InvalidValue });
  t.throws(() => kinds.hook.parse('not a function'), { message: 'expected a function, got "not a function"' });
});

test('APPD_CMD_ARGS splits like a shell: quotes and backslashes, no expansion', (t) => {
  t.deepEqual(splitShellWords(`--workers 3  --env 'A=two words' --env "B=\\"quoted\\"" C\\ D $HOME`), [
    '--workers',
    '3',
    '--env',
    'A=two words',
    '--env',
    'B="quoted"',
    'C D',
    '$HOME',
  ]);
  t.deepEqual(splitShellWords(''), []);
  t.throws(() => splitShellWords('--env "open'), { message: /unterminated " quote/ });
});

test('closest names for typos, none for nonsense', (t) => {
  const keys = SETTINGS.map((setting) => setting.key);
  t.is(closestName('worker', keys), 'workers');
  t.is(closestName('gracefultimeout', keys), 'gracefulTimeout');
  t.is(closestName('zzzzzzzzzzzz', keys), null);
});

test('the settings table: unique keys and flags, known sections, docs for every entry, valid defaults', (t) => {
  const keys = SETTINGS.map((setting) => setting.key);
  t.is(new Set(keys).size, keys.length);
  const shorts = SETTINGS.flatMap((setting) => (setting.short ? [setting.short] : []));
  t.is(new Set(shorts).size, shorts.length);
  for (const setting of SETTINGS) {
    t.true(SECTIONS.includes(setting.section), setting.key);
    t.true(setting.summary.length > 10 && setting.doc.length > 10, `${setting.key} is documented`);
    t.regex(kebabCase(setting.key), /^[a-z][a-z-]*$/);
    if (typeof setting.default !== 'function') {
      t.notThrows(() => setting.kind.format(setting.default as never), `${setting.key} default formats`);
    } else {
      t.truthy(setting.defaultText, `${setting.key} documents its computed default`);
    }
  }
});
