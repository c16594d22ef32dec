// The master's plain reading of its flags (daemon/config/cli-arguments.ts) against commander's: the same
// result for every list it reads, and commander for everything else. In-process, in the ava test process.

import test from 'ava';
import { hasFlag, readPlainWords, type ParsedWords } from '../../daemon/config/cli-arguments.js';
import { parseWithCommander } from '../../daemon/config/commander-arguments.js';
import { flagName, type AnySetting } from '../../shared/settings/define.js';
import { SETTINGS } from '../../shared/settings/table.js';

/** What commander makes of `args`, without the keys it leaves undefined. */
function commanderReading(args: readonly string[]): ParsedWords {
  const { options, positional } = parseWithCommander(args, 'test');
  return { options: Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)), positional };
}

const FLAGGED = (SETTINGS as readonly AnySetting[]).filter(hasFlag);

const PLAIN_LISTS: readonly (readonly string[])[] = [
  [],
  ['app.js'],
  ['-w', '4', 'app.js'],
  ['app.js', '--workers', '3', '--name', 'web'],
  ['--workers=4', '--bind', '127.0.0.1:0', '--bind=[::1]:8080', 'app.js:handler'],
  ['--bind='],
  ['--daemon', '--no-daemon'],
  ['--no-daemon', '--daemon', '-'],
  ['--print-config', '--check-config', '--print-systemd-unit'],
  ['--log-file', '/tmp/appd.log', 'app.js'],
  ['--log-file=/tmp/a.log', '--error-logfile', '-'],
  ['--timeout', '30', '--timeout', '40'],
  ['--name', 'a=b', '--pidfile', '/run/appd.pid'],
  // Every flag of the settings table once: a value to each that takes one, and each boolean both ways.
  ...FLAGGED.map((setting) => (setting.kind.isFlag ? [flagName(setting)] : [flagName(setting), 'some value'])),
  ...FLAGGED.filter((setting) => setting.kind.isFlag).map((setting) => [`--no-${flagName(setting).slice(2)}`]),
  ...FLAGGED.filter((setting) => setting.short !== undefined).map((setting) =>
    setting.kind.isFlag ? [setting.short ?? ''] : [setting.short ?? '', '7', 'app.js'],
  ),
  ...FLAGGED.filter((setting) => setting.kind.repeatable).map((setting) => [
    flagName(setting),
    'one',
    `${flagName(setting)}=two`,
    'app.js',
    flagName(setting),
    'three',
  ]),
];

test('for every plain list the plain reading gives what commander gives', (t) => {
  t.true(PLAIN_LISTS.length > FLAGGED.length, 'each flag of the table is tried');
  for (const args of PLAIN_LISTS) {
    const plain = readPlainWords(args);
    t.not(plain, null, `read plainly: ${args.join(' ')}`);
    t.deepEqual(plain, commanderReading(args), args.join(' '));
  }
});

test('every other list is left to commander, which answers, refuses or reads it', (t) => {
  const left: readonly (readonly string[])[] = [
    ['--help'],
    ['-h'],
    ['--version'],
    ['-v'],
    ['-w4'],
    ['--workers'],
    ['--workers', '-1'],
    ['--workers', '--daemon'],
    ['a.js', 'b.js'],
    ['--wrkers', '2'],
    ['--daemon=true'],
    ['--print-config=yes'],
    ['--no-workers', '2'],
    ['-x'],
  ];
  for (const args of left) t.is(readPlainWords(args), null, args.join(' '));
  // Commander reads some of them its own way: a bundled short flag, a negative value.
  t.deepEqual(commanderReading(['-w4']).options, { workers: '4' });
  t.deepEqual(commanderReading(['--workers', '-1']).options, { workers: '-1' });
  t.throws(() => parseWithCommander(['a.js', 'b.js'], 'command line'), { message: /^command line: too many arguments/ });
  t.throws(() => parseWithCommander(['--wrkers', '2'], 'APPD_CMD_ARGS'), { message: /^APPD_CMD_ARGS: unknown option '--wrkers'/ });
});
