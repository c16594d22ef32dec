// A real systemd booted as PID 1 in private namespaces (pid, mount, uts, ipc, net, cgroup) on a
// copy-on-write view of this machine, for tests that drive appd's units with systemctl. One per test file;
// everything it made is gone after shutdown(), or after the test process dies, whatever kills it.
// Runs in the ava test process (as root).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasErrorCode } from '../../../shared/errors.js';
import { PROJECT_ROOT } from '../../helpers/daemon.js';
import { childrenOf, comm, isAlive, killQuietly, sleep, waitFor } from '../../helpers/processes.js';
import { initScript, reaperScript } from './boot-scripts.js';

const SYSTEMD = '/lib/systemd/systemd';
const CGROUP2_MAGIC = 0x63677270;
/** Tools the sandbox runs on the host side. */
const HOST_TOOLS = ['unshare', 'nsenter', 'mount', 'chroot', 'useradd', 'pivot_root'];
const NAMESPACES = ['-m', '-u', '-i', '-n', '-p', '-C'];
const BOOT_TIMEOUT_MS = 60_000;

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function onPath(tool: string): boolean {
  for (const directory of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      accessSync(join(directory, tool), constants.X_OK);
      return true;
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT', 'EACCES', 'ENOTDIR')) throw error; // not in this directory
    }
  }
  return false;
}

/** The host's cgroup2 mount (unified or hybrid layout), or null. */
function cgroup2Root(): string | null {
  for (const candidate of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    try {
      if (statfsSync(candidate).type === CGROUP2_MAGIC) return candidate;
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT')) throw error; // not mounted in this layout
    }
  }
  return null;
}

/** Files the units' user reads from the checkout. */
const READ_BY_UNITS = ['dist/daemon/appd.cjs', 'dist/ctl/appctl.cjs', 'dist/ctl/appctl-main.cjs', 'test/fixtures/held-response-app.mjs', 'node_modules/commander/package.json'];

/** o+r on a file (o+x too when executable by its owner), o+rx on a directory. */
function openToOthers(path: string): boolean {
  const { mode } = statSync(path);
  const wanted = (mode & 0o040000) !== 0 || (mode & 0o100) !== 0 ? 0o005 : 0o004;
  return (mode & wanted) === wanted;
}

/** Why a sandbox cannot boot here, or null when it can (checked before any test runs). */
export function sandboxProblem(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, cgroups)';
  const missing = HOST_TOOLS.filter((tool) => !onPath(tool));
  if (missing.length > 0) return `missing ${missing.join(', ')} (util-linux, passwd)`;
  if (!existsSync(SYSTEMD)) return `no ${SYSTEMD} (apt-get install systemd)`;
  if (!onPath('systemd-notify')) return 'no systemd-notify (apt-get install systemd)';
  if (cgroup2Root() === null) return 'no cgroup2 file system mounted';
  // The units run as an "appd" user, from the checkout bind-mounted inside (its parents do not matter).
  const unreadable = [PROJECT_ROOT, ...READ_BY_UNITS.map((path) => join(PROJECT_ROOT, path)), realpathSync(process.execPath)].find((path) => !openToOthers(path));
  if (unreadable !== undefined) return `${unreadable} is not readable by other users, as the units' user must (a checkout made with umask 077?)`;
  // A kernel or container that forbids new namespaces fails here, not halfway through a boot.
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount', '--net', '--cgroup', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `unshare cannot create namespaces: ${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}`;
  return null;
}

export interface SandboxOptions {
  /** Files to put into the sandbox's root before boot: absolute path inside -> content. */
  readonly files: Readonly<Record<string, string>>;
  /** Shell commands run in a chroot of the sandbox's root before boot (useradd, chown ...). */
  readonly setup: string;
}

export class SystemdSandbox {
  readonly base: string;
  readonly cgroup: string;
  /** systemd (PID 1 inside) as the host sees it. */
  readonly pid: number;
  readonly #unshare: ChildProcess;
  readonly #reaper: ChildProcess;
  #stopped = false;

  private constructor(base: string, cgroup: string, pid: number, unshare: ChildProcess, reaper: ChildProcess) {
    this.base = base;
    this.cgroup = cgroup;
    this.pid = pid;
    this.#unshare = unshare;
    this.#reaper = reaper;
  }

  static async boot(options: SandboxOptions): Promise<SystemdSandbox> {
    const root = cgroup2Root();
    if (root === null) throw new Error('no cgroup2 file system mounted');
    const base = mkdtempSync(join(tmpdir(), 'appd-systemd-'));
    const cgroup = join(root, `appd-test-${base.slice(base.lastIndexOf('-') + 1)}`);
    mkdirSync(cgroup);
    // First, so that nothing outlives the test process: whatever happens next, the reaper cleans up.
    const reaper = spawn('/bin/sh', ['-c', reaperScript(cgroup, base)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    mkdirSync(join(base, 'payload'));
    for (const [path, content] of Object.entries(options.files)) {
      const target = join(base, 'payload', path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    const init = join(base, 'init.sh');
    writeFileSync(init, initScript({ base, project: PROJECT_ROOT, node: realpathSync(process.execPath), setup: options.setup }));
    const log = join(base, 'boot.log');
    writeFileSync(log, '');
    // The shell moves itself into the cgroup first, so that the cgroup is the namespace's cgroup root.
    // --kill-child: if unshare is killed, so is the namespace's PID 1, and with it everything inside.
    const unshare = spawn('/bin/sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec unshare --pid --fork --kill-child --mount --uts --ipc --net --cgroup --propagation private -- /bin/sh "$2" >> "$3" 2>&1', 'sh', cgroup, init, log], {
      detached: true,
      stdio: 'ignore',
    });
    unshare.unref();
    const describeBoot = (): string => `${readFileSync(log, 'utf8')}${existsSync(join(base, 'console.log')) ? readFileSync(join(base, 'console.log'), 'utf8').slice(-3000) : ''}`;
    let pid: number;
    try {
      pid = await waitFor('systemd to start in the sandbox', () => {
        if (unshare.exitCode !== null) throw new Error(`the sandbox's init exited with ${unshare.exitCode}:\n${describeBoot()}`);
        return childrenOf(unshare.pid ?? -1).find((child) => comm(child) === 'systemd') ?? null;
      }, BOOT_TIMEOUT_MS, 50);
    } catch (error) {
      reaper.stdin?.end();
      throw error;
    }
    const sandbox = new SystemdSandbox(base, cgroup, pid, unshare, reaper);
    try {
      await waitFor('systemd to finish booting', async () => {
        const state = await sandbox.exec(['systemctl', 'is-system-running', '--wait'], 30_000);
        return ['running', 'degraded'].includes(state.stdout.trim()) ? true : null;
      }, BOOT_TIMEOUT_MS, 100);
      // "Got notification message" lines, which tell what appd sent, are debug-level.
      await sandbox.mustExec(['systemctl', 'log-level', 'debug']);
    } catch (error) {
      await sandbox.shutdown();
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${describeBoot()}`);
    }
    return sandbox;
  }

  /** Runs a command inside (all of the sandbox's namespaces) and collects its output. */
  exec(command: readonly string[], timeoutMs = 60_000, input?: string): Promise<ExecResult> {
    return new Promise((settle, reject) => {
      const child = spawn('nsenter', ['-t', String(this.pid), ...NAMESPACES, '--', ...command], {
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
      child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      if (input !== undefined) child.stdin?.end(input);
      const timer = setTimeout(() => {
        if (child.pid !== undefined) killQuietly(child.pid);
        reject(new Error(`timed out after ${timeoutMs} ms: ${command.join(' ')}\n${stdout}${stderr}`));
      }, timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        settle({ code, stdout, stderr });
      });
    });
  }

  /** exec(), and an error with the output unless it exited 0. */
  async mustExec(command: readonly string[], timeoutMs = 60_000, input?: string): Promise<string> {
    const result = await this.exec(command, timeoutMs, input);
    if (result.code !== 0) throw new Error(`${command.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  /** A Node process with the host's files but the sandbox's network: it reaches the units' ports on 127.0.0.1. */
  spawnInNetwork(script: string, args: readonly string[]): ChildProcess {
    return spawn('nsenter', ['-t', String(this.pid), '-n', '--', process.execPath, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** `systemctl show` properties as a record. */
  async show(unit: string, properties: readonly string[]): Promise<Record<string, string>> {
    const text = await this.mustExec(['systemctl', 'show', unit, ...properties.map((property) => `--property=${property}`)]);
    return Object.fromEntries(text.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  }

  async waitForState(unit: string, wanted: Readonly<Record<string, string | RegExp>>, timeoutMs = 60_000): Promise<Record<string, string>> {
    let last: Record<string, string> = {};
    return waitFor(`${unit} to reach ${JSON.stringify(wanted, (_key, value: unknown) => (value instanceof RegExp ? String(value) : value))}`, async () => {
      last = await this.show(unit, Object.keys(wanted));
      return Object.entries(wanted).every(([key, value]) => (typeof value === 'string' ? last[key] === value : value.test(last[key] ?? ''))) ? last : null;
    }, timeoutMs, 100).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`);
    });
  }

  /** The journal's position now: journal() after it shows only what came later. */
  async cursor(): Promise<string> {
    const text = await this.mustExec(['journalctl', '--show-cursor', '-n', '0', '-q', '--no-pager']);
    const cursor = /-- cursor: (\S+)/.exec(text)?.[1];
    if (!cursor) throw new Error(`journalctl printed no cursor: ${text}`);
    return cursor;
  }

  /** Journal lines about `unit` (systemd's and the unit's own) after `cursor` (since boot without one), as "MESSAGE" texts. */
  async journal(unit: string, cursor?: string): Promise<string[]> {
    const text = await this.mustExec(['journalctl', '--no-pager', '-q', '-o', 'cat', '-u', unit, ...(cursor === undefined ? [] : [`--after-cursor=${cursor}`])]);
    return text.split('\n').filter(Boolean);
  }

  /** Powers systemd off, then lets the reaper kill whatever is left and remove the cgroup and files. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (isAlive(this.pid)) {
      await this.exec(['systemctl', 'poweroff', '--no-block'], 10_000).catch(() => undefined);
      await waitFor('systemd to power off', () => !isAlive(this.pid), 20_000, 100).catch(() => killQuietly(this.pid));
    }
    if (this.#unshare.pid !== undefined) killQuietly(this.#unshare.pid);
    const reaped = new Promise<void>((settle) => {
      if (this.#reaper.exitCode !== null || this.#reaper.signalCode !== null) settle();
      else this.#reaper.once('exit', () => settle());
    });
    this.#reaper.stdin?.end();
    await Promise.race([reaped, sleep(20_000)]);
    if (existsSync(this.cgroup)) throw new Error(`the sandbox's cgroup ${this.cgroup} is still there`);
    if (existsSync(this.base)) throw new Error(`the sandbox's directory ${this.base} is still there`);
  }
}

/** Where the compiled harness lives, for scripts run inside (the agent). */
export const HARNESS_DIRECTORY = dirname(fileURLToPath(import.meta.url));
