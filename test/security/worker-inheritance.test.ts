// Attack 8 of the security issue: a worker of another user inherited what it should not. The master is
// started with a descriptor open without close-on-exec on a root-only file (`exec 200< secret`): no
// worker has fd 200, the master closed it and said so. A worker started as nobody gets nobody's HOME,
// USER, LOGNAME and SHELL, not root's; env-passthrough passes only the variables it names.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { installationForOthers, NOBODY, testAsNobody, whyNotAsNobody } from '../helpers/other-users.js';

interface Inherited {
  readonly uid: number;
  readonly fds: number[];
  readonly fd200: string;
  readonly env: Record<string, string | null>;
}

async function inherited(url: string): Promise<Inherited> {
  return JSON.parse((await get(url)).body) as Inherited;
}

test('a descriptor the master was started with (exec 200< secret) never reaches a worker', async (t) => {
  const secret = join(tempDirectory(t), 'secret');
  writeFileSync(secret, 'root only\n', { mode: 0o600 });
  // As root, the workers run as nobody, from files nobody can read.
  const installation = whyNotAsNobody() === null ? installationForOthers(t) : null;
  const daemon = await startDaemon(t, {
    // bash: dash takes descriptors up to 9 only.
    wrapper: ['/bin/bash', '-c', 'exec 200< "$SECRET"; exec "$@"', 'bash'],
    env: { SECRET: secret },
    args: [
      installation?.fixture('security/inheritance-app.mjs') ?? fixture('security/inheritance-app.mjs'),
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      ...(installation ? ['--user', 'nobody'] : []),
    ],
    ...(installation ? { appd: installation.appd } : {}),
  });
  const answers = [await inherited(daemon.url), await inherited(daemon.url)];
  t.log(JSON.stringify(answers[0]));
  for (const answer of answers) {
    t.is(answer.fd200, 'EBADF', 'fd 200 is not open in the worker');
    t.false(answer.fds.includes(200));
  }
  if (installation) t.is(answers[0]?.uid, NOBODY);
  t.false(existsSync(`/proc/${daemon.pid}/fd/200`), 'the master let go of it too');
  // Other descriptors the test runner itself leaked may be named in the same line.
  t.regex(
    daemon.output,
    new RegExp(
      `\\[INFO\\] closed fd 200 \\(${secret}\\)[^\\n]*: open without close-on-exec when appd started \\(every worker would have inherited`,
    ),
  );
});

testAsNobody("a worker started as nobody gets nobody's HOME, USER, LOGNAME and SHELL, not root's", async (t) => {
  const installation = installationForOthers(t);
  const [, , , , , home = '', shell = ''] = execFileSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).trim().split(':');
  const daemon = await startDaemon(t, {
    args: [installation.fixture('security/inheritance-app.mjs'), '-b', '127.0.0.1:0', '--user', 'nobody'],
    appd: installation.appd,
    env: { HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash' },
  });
  const answer = await inherited(daemon.url);
  t.deepEqual([answer.env['HOME'], answer.env['USER'], answer.env['LOGNAME'], answer.env['SHELL']], [home, 'nobody', 'nobody', shell]);
});

test("--env-passthrough passes only the variables it names (NAME or PREFIX*); appd's own and --env always", async (t) => {
  const daemon = await startDaemon(t, {
    args: [
      fixture('security/inheritance-app.mjs'),
      '-b',
      '127.0.0.1:0',
      '--env-passthrough',
      'FOO',
      '--env-passthrough',
      'LC_*',
      '--env',
      'BAR=from --env',
    ],
    env: { FOO: 'passes', BAR: 'master', LC_TEST: 'matches LC_*' },
  });
  const { env } = await inherited(daemon.url);
  t.is(env['FOO'], 'passes');
  t.is(env['LC_TEST'], 'matches LC_*');
  t.is(env['BAR'], 'from --env', "the pool's --env is set whatever the list");
  t.is(env['APPD_POOL'], 'web');
  t.is(env['PATH'], null, 'not named, not passed');
  t.is(env['XDG_RUNTIME_DIR'], null);
});
