// appctl(1) against the appctl program itself: every command and option its --help lists is in the
// page, and the page describes no command the program lacks.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPCTL, PROJECT_ROOT } from '../helpers/daemon.js';

function help(...args: string[]): string {
  const result = spawnSync(process.execPath, [APPCTL, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`appctl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** The entries of one section of commander's help ("Options:", "Commands:"): their first column. */
function helpSection(text: string, title: string): string[] {
  const section = text.split(/\n(?=\S)/).find((part) => part.startsWith(`${title}:`)) ?? '';
  return section
    .split('\n')
    .slice(1)
    .flatMap((line) => /^ {2}(\S.*?)(?: {2,}|$)/.exec(line)?.[1] ?? []);
}

/** Long option names in a help entry like "-s, --socket <PATH>". */
const longFlags = (entries: readonly string[]): string[] => entries.flatMap((entry) => entry.match(/--[a-z][a-z-]*/g) ?? []);

test('appctl(1) documents every appctl command and option, and no command appctl lacks', (t) => {
  const page = readFileSync(join(PROJECT_ROOT, 'man/appctl.1'), 'utf8').replace(/\\-/g, '-');
  const commandsSection = page.slice(page.indexOf('.SH COMMANDS'), page.indexOf('.SH', page.indexOf('.SH COMMANDS') + 1));
  const documented = [...commandsSection.matchAll(/^\.TP\n\.BR? (\S+)/gm)].map((match) => match[1] ?? '');

  const main = help('--help');
  const commands = helpSection(main, 'Commands').map((entry) => entry.split(' ')[0] ?? '');
  t.deepEqual([...documented].sort(), [...commands].sort(), 'the COMMANDS section lists exactly the commands of appctl --help');
  for (const flag of longFlags(helpSection(main, 'Options'))) t.true(page.includes(flag), `global option ${flag} is in man/appctl.1`);
  for (const command of commands.filter((name) => name !== 'help')) {
    for (const flag of longFlags(helpSection(help('help', command), 'Options')).filter((name) => name !== '--help')) {
      t.true(commandsSection.includes(flag), `${command} ${flag} is in the COMMANDS section of man/appctl.1`);
    }
  }
});
