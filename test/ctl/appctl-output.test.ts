// What appctl prints says each thing once: a reload's result once, a failed reload's error (the app's
// own frames, not appd's) once, counts in the right number ("1 ready worker"), and a mistyped command
// in the same one-line style as every other appctl error.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appctl } from '../helpers/appctl.js';
import { startDaemon } from '../helpers/daemon.js';

/** A factory that fails while the file "broken" exists in the daemon's directory (a database down). */
const FACTORY_APP = `import { existsSync } from 'node:fs';
export async function createApp() {
  if (existsSync('broken')) throw new Error('database unreachable');
  return (request, response) => response.end('ok');
}
`;

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

test("a reload prints its result once; a failed one its error once, with the app's frames and not appd's", async (t) => {
  const daemon = await startDaemon(t, {
    args: ['app.mjs:createApp()', '-w', '1', '-b', '127.0.0.1:0', '--boot-timeout', '20'],
    files: { 'app.mjs': FACTORY_APP },
  });
  const run = (...args: string[]) => appctl(args, { runtimeDirectory: daemon.directory, timeoutMs: 90_000 });
  const reload = await run('reload');
  t.is(reload.code, 0, reload.stderr);
  t.is(count(reload.stdout, 'pool web reloaded: generation 2 serves with 1 worker ('), 1, reload.stdout);
  t.notRegex(reload.stdout, /worker\(s\)|1 workers/);

  writeFileSync(join(daemon.directory, 'broken'), '');
  const failed = await run('reload');
  t.is(failed.code, 1);
  const everything = failed.stdout + failed.stderr;
  t.is(count(failed.stdout, 'Error: database unreachable'), 1, everything);
  t.is(count(everything, `at createApp (file://${join(daemon.directory, 'app.mjs')}`), 1, "the app's own frame, once");
  t.notRegex(everything, /dist\/daemon|node:internal/, "no frame of appd's loader or of Node's");
  // Scripts reading stderr get the headline, not the stack a second time.
  t.regex(failed.stderr, /^appctl: reload of pool web rolled back: .*database unreachable\n$/);
  t.regex(failed.stdout, /generation 2 keeps serving with 1 worker$/m);

  const scaled = await run('scale', '1');
  t.is(scaled.code, 0);
  t.regex(scaled.stdout, /^pool web has 1 ready worker$/m);
});

test("a mistyped command or option: one line in appctl's style, exit 2", async (t) => {
  const daemon = await startDaemon(t, { args: ['app.mjs:createApp()', '-w', '1', '-b', '127.0.0.1:0'], files: { 'app.mjs': FACTORY_APP } });
  const typo = await appctl(['stauts'], { runtimeDirectory: daemon.directory });
  t.is(typo.code, 2);
  t.is(typo.stderr, "appctl: unknown command 'stauts' (Did you mean status?)\n");
  const option = await appctl(['status', '--jsno'], { runtimeDirectory: daemon.directory });
  t.is(option.code, 2);
  t.is(option.stderr, "appctl: unknown option '--jsno' (Did you mean --json?)\n");
});
