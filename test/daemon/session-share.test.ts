// The workers' sessions weigh one session together where the kernel shares CPU by session (autogroup):
// a real daemon, its workers' /proc/PID/autogroup read as the kernel reports them, under root and as
// nobody (whose writes the kernel rate-limits to one per 100 ms). Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { chownSync, existsSync, readFileSync } from 'node:fs';
import { appctl } from '../helpers/appctl.js';
import { fixture, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { pathToFileURL } from 'node:url';
import { AS_NOBODY, installationForOthers, NOBODY, runCommand, whyNotAsNobody } from '../helpers/other-users.js';
import { waitFor } from '../helpers/processes.js';

/** Why this kernel does not group by session, or null when it does. */
function whyNoAutogroup(): string | null {
  const sysctl = '/proc/sys/kernel/sched_autogroup_enabled';
  if (!existsSync(sysctl) || !existsSync('/proc/self/autogroup')) return 'this kernel has no autogroup (CONFIG_SCHED_AUTOGROUP)';
  if (readFileSync(sysctl, 'utf8').trim() !== '1') return 'kernel.sched_autogroup_enabled is 0';
  return null;
}

/** "/autogroup-123 nice 3": the session's group and its nice level, as the kernel reports them. */
function sessionOf(pid: number): { group: string; nice: number } {
  const match = /^(\S+) nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/autogroup: unexpected content`);
  return { group: match[1] ?? '', nice: Number(match[2]) };
}

/** Waits until the daemon has `count` workers whose sessions are all at `nice`; returns their pids. */
async function workersAtNice(daemon: TestDaemon, count: number, nice: number): Promise<number[]> {
  let seen = '';
  try {
    return await waitFor(`${count} workers' sessions at nice ${nice}`, () => {
      const workers = daemon.workers();
      const sessions = workers.map((pid) => {
        try {
          return sessionOf(pid).nice;
        } catch (error) {
          return String(error);
        }
      });
      seen = sessions.join(', ');
      return workers.length === count && sessions.every((value) => value === nice) ? workers : null;
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: [${seen}]`);
  }
}

const autogroupMissing = whyNoAutogroup();
const withAutogroup = (title: string, implementation: (t: ExecutionContext) => Promise<void>): void => {
  if (autogroupMissing === null) test(title, implementation);
  else test.skip(`${title} [skipped: ${autogroupMissing}]`, implementation);
};

withAutogroup('each worker leads its own session, and the sessions of all of them weigh one: 2 at nice 3, 4 at 6, 1 at 0', async (t) => {
  const daemon = await startDaemon(t, { args: [fixture('pid-app.mjs'), '-w', '2', '-b', '127.0.0.1:0'] });
  const two = await workersAtNice(daemon, 2, 3);
  const groups = new Set(two.map((pid) => sessionOf(pid).group));
  t.is(groups.size, 2, 'one session (autogroup) per worker: its process group is cleaned up with it');
  t.false(groups.has(sessionOf(daemon.pid).group), "not the master's");
  t.is(sessionOf(daemon.pid).nice, 0, "the master's own session is left alone");

  t.is((await appctl(['scale', '4'], { runtimeDirectory: daemon.directory })).code, 0);
  const four = await workersAtNice(daemon, 4, 6);
  t.deepEqual(four.filter((pid) => two.includes(pid)).sort(), [...two].sort(), 'the first two were rewritten, not replaced');

  t.is((await appctl(['scale', '1'], { runtimeDirectory: daemon.directory })).code, 0);
  await workersAtNice(daemon, 1, 0);
});

const nobodyMissing = autogroupMissing ?? whyNotAsNobody();
(nobodyMissing === null ? test : test.skip)(
  `a master running as nobody, whose writes the kernel takes one per 100 ms, still weighs 3 workers at nice 5${nobodyMissing === null ? '' : ` [skipped: ${nobodyMissing}]`}`,
  async (t) => {
    const installation = installationForOthers(t);
    const daemon = await startDaemon(t, {
      args: [installation.fixture('pid-app.mjs'), '-w', '3', '-b', '127.0.0.1:0'],
      wrapper: AS_NOBODY,
      appd: installation.appd,
      // The daemon's directory (its XDG_RUNTIME_DIR, for the control socket) is nobody's.
      prepare: (directory) => chownSync(directory, NOBODY, NOBODY),
    });
    const workers = await workersAtNice(daemon, 3, 5);
    t.is(readFileSync(`/proc/${workers[0] ?? -1}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], String(NOBODY));
    t.notRegex(daemon.output, /cannot weigh worker sessions/);
  },
);

const namespaceMissing =
  autogroupMissing ??
  (process.getuid?.() !== 0 ? 'unshare --pid needs root' : existsSync('/usr/bin/unshare') ? null : 'unshare (util-linux) is not installed');
(namespaceMissing === null ? test : test.skip)(
  `a master in a pid namespace whose /proc is another namespace's writes to no session (its workers' pids name other processes there)${namespaceMissing === null ? '' : ` [skipped: ${namespaceMissing}]`}`,
  async (t) => {
    const module = pathToFileURL(new URL('../../daemon/workers/spawn/session-share.js', import.meta.url).pathname).href;
    const probe = `const { autogroupWriter } = await import(${JSON.stringify(module)});
const found = autogroupWriter();
console.log(JSON.stringify({ pid: process.pid, writes: found.writer !== null, why: found.why }));`;
    // unshare --pid --fork without --mount-proc: node is pid 1 of a new namespace and sees the host's /proc.
    const result = await runCommand(['unshare', '--pid', '--fork', '--', process.execPath, '--input-type=module', '-e', probe], {
      timeoutMs: 60_000,
    });
    t.is(result.code, 0, result.stderr);
    const found = JSON.parse(result.stdout) as { pid: number; writes: boolean; why: string };
    t.is(found.pid, 1);
    t.false(found.writes);
    t.regex(found.why, /^\/proc is another pid namespace's \(\/proc\/self is \d+, this process is 1\)$/);
  },
);
