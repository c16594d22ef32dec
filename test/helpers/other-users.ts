// What a process of another user (nobody, through setpriv) needs to run appd in a test: the checkout when
// that user can reach it, else a copy of the built code, its runtime packages and the fixtures in a
// world-readable temp directory (a clone under root's home or `mktemp -d` sits in a 0700 directory).
// Runs in the ava test process.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from './daemon.js';

export const NOBODY = 65534;
const SETPRIV = '/usr/bin/setpriv';
/** Runs the command that follows as nobody, with no supplementary groups. */
export const AS_NOBODY: readonly string[] = [SETPRIV, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];

/** Whether a user who is neither owner nor in the group can open `path`: o+x on every directory above it, o+r on it. */
export function reachableByOthers(path: string): boolean {
  const real = realpathSync(path);
  if ((statSync(real).mode & 0o004) === 0) return false;
  for (let directory = dirname(real); ; directory = dirname(directory)) {
    if ((statSync(directory).mode & 0o001) === 0) return false;
    if (directory === '/') return true;
  }
}

/**
 * Why this suite cannot run processes as nobody, or null when it can: root (to switch users), setpriv,
 * and a Node binary nobody may execute (Node 24 installed under a private directory is not).
 */
export function whyNotAsNobody(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to run processes as nobody';
  if (!existsSync(SETPRIV)) return `needs ${SETPRIV} (util-linux) to run processes as nobody`;
  if (!reachableByOthers(process.execPath)) return `${process.execPath} is out of nobody's reach (a directory above it is not o+x)`;
  return null;
}

/** `test` when this suite can run processes as nobody; else `test.skip`, the reason in its title. */
export function testAsNobody(title: string, implementation: (t: ExecutionContext) => Promise<void> | void): void {
  const reason = whyNotAsNobody();
  if (reason === null) test(title, implementation);
  else test.skip(`${title} [skipped: ${reason}]`, implementation);
}

/** appd, appctl and the fixtures, at paths another user can read. */
export interface Installation {
  readonly appd: string;
  readonly appctl: string;
  fixture(name: string): string;
}

function installationAt(root: string): Installation {
  return {
    appd: join(root, 'dist/daemon/appd.cjs'),
    appctl: join(root, 'dist/ctl/appctl.cjs'),
    fixture: (name) => join(root, 'test/fixtures', name),
  };
}

/** The packages appd needs at run time (the lock file's non-dev entries), as paths under node_modules/. */
function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true)
    .map(([path]) => path)
    .filter((path) => existsSync(join(PROJECT_ROOT, path)));
}

/** o+r on every file and o+rx on every directory under `directory`, whatever the umask of the checkout was. */
function openToOthers(directory: string): void {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      chmodSync(path, statSync(path).mode | 0o005);
      openToOthers(path);
    } else if (entry.isFile()) {
      chmodSync(path, statSync(path).mode | 0o004);
    }
  }
}

/**
 * The checkout when another user can read it; otherwise a copy staged for this test (about 6 MB: dist's
 * daemon, ctl and shared, the runtime packages, the fixtures), removed when the test ends.
 */
export function installationForOthers(t: ExecutionContext): Installation {
  if (reachableByOthers(join(PROJECT_ROOT, 'dist/daemon/appd.cjs')) && reachableByOthers(join(PROJECT_ROOT, 'test/fixtures/pid-app.mjs'))) {
    return installationAt(PROJECT_ROOT);
  }
  // mkdtemp makes it 0700: nobody can enter before the copy is complete and opened up (last step).
  const root = mkdtempSync(join(tmpdir(), 'appd-staged-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const parts = ['package.json', 'dist/daemon', 'dist/ctl', 'dist/shared', ...runtimePackages()];
  for (const part of parts) cpSync(join(PROJECT_ROOT, part), join(root, part), { recursive: true });
  // The fixtures without their framework node_modules (several MB no test run as nobody needs).
  cpSync(join(PROJECT_ROOT, 'test/fixtures'), join(root, 'test/fixtures'), {
    recursive: true,
    filter: (source) => !source.includes('/node_modules'),
  });
  openToOthers(root);
  chmodSync(root, 0o755);
  t.log(`${PROJECT_ROOT} is out of nobody's reach: running the processes of uid ${NOBODY} from a copy in ${root}`);
  return installationAt(root);
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end and collects its exit code and output; SIGKILLed after `timeoutMs`. */
export function runCommand(
  command: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  const [program = '', ...args] = command;
  const child = spawn(program, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((settle) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      settle({ code, stdout, stderr });
    }),
  );
}

/** runCommand as nobody, with PATH as the only environment unless `env` adds to it. */
export function runAsNobody(
  command: readonly string[],
  options: { env?: Readonly<Record<string, string>>; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  return runCommand([...AS_NOBODY, ...command], { ...options, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env } });
}
