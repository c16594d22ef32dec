// Starts a real nginx or HAProxy for a test, from the recipes in docs/proxies/ with temporary paths
// and ports swapped in, each with its own prefix, config, logs and pid; stops it (by its process
// group) after the test, even when it fails. Runs in the ava test process.

import type { ExecutionContext } from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT, tempDirectory } from './daemon.js';
import { findListeningPorts, freePort } from './ports.js';
import { isAlive, waitFor } from './processes.js';

export const RECIPES = join(PROJECT_ROOT, 'docs/proxies');

/**
 * A recipe from docs/proxies with each [from, to] replaced everywhere. A `from` the recipe no longer
 * contains fails the test: the docs and the test must not drift apart.
 */
export function recipeWith(name: string, replacements: readonly (readonly [string, string])[]): string {
  let text = readFileSync(join(RECIPES, name), 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from))
      throw new Error(`docs/proxies/${name} no longer contains ${JSON.stringify(from)}: update the test with the recipe`);
    text = text.split(from).join(to);
  }
  return text;
}

/** A self-signed certificate for shop.example in `directory`: [certificate, key]. */
export function selfSignedCertificate(directory: string): [string, string] {
  const [certificate, key] = [join(directory, 'shop.example.pem'), join(directory, 'shop.example.key')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=shop.example', '-days', '1', '-keyout', key, '-out', certificate],
    { stdio: 'ignore' },
  );
  return [certificate, key];
}

export class ProxyServer {
  readonly directory: string;
  readonly child: ChildProcess;
  output = '';

  constructor(directory: string, child: ChildProcess) {
    this.directory = directory;
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.output += text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.output += text));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** A file the server writes in its directory ('' until it exists). */
  read(name: string): string {
    const path = join(this.directory, name);
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  async stop(): Promise<void> {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      try {
        process.kill(-this.pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // already gone
        return;
      }
      // Still there after TERM: KILL follows.
      const gone = await waitFor(`${this.pid} to exit`, () => !isAlive(this.pid), 5000).then(
        () => true,
        () => false,
      );
      if (gone) return;
    }
  }
}

/** The server could not bind a port it was given: another process took it after freePort() found it free. */
export class PortTaken extends Error {}

/**
 * Starts a server on `count` free ports (`start` gets them), again on others when one was taken in
 * between (the suite runs test files in parallel, and every port-0 listener draws from the same range).
 */
export async function startOnFreePorts(
  count: number,
  start: (ports: number[]) => Promise<ProxyServer>,
): Promise<{ server: ProxyServer; ports: number[] }> {
  for (let attempt = 1; ; attempt += 1) {
    const ports: number[] = [];
    while (ports.length < count) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    try {
      return { server: await start(ports), ports };
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt === 3) throw error;
    }
  }
}

async function startServer(
  t: ExecutionContext,
  directory: string,
  command: string,
  args: readonly string[],
  port: number,
): Promise<ProxyServer> {
  // Its own process group, so stop() ends the master and its workers together.
  const child = spawn(command, args, { cwd: directory, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new ProxyServer(directory, child);
  t.teardown(async () => {
    if (!t.passed) t.log(`--- ${command} output ---\n${server.output}\n--- error log ---\n${server.read('error.log')}`);
    await server.stop();
  });
  const exited = new Promise<never>((_settle, fail) =>
    child.once('exit', (code) => {
      const said = `${command} exited with ${code}:\n${server.output}${server.read('error.log')}`;
      fail(/Address already in use/.test(said) ? new PortTaken(said) : new Error(said));
    }),
  );
  // Listening itself: a port that merely accepts may be another test's server on a port taken meanwhile.
  await Promise.race([waitFor(`${command} listening on ${port}`, () => findListeningPorts([server.pid]).includes(port), 20_000), exited]);
  return server;
}

/** Whether another user can pass through `directory` and every directory above it (o+x on each). */
function traversableByOthers(directory: string): boolean {
  for (let current = realpathSync(directory); ; current = dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    if (current === '/') return true;
  }
}

/**
 * A new directory nginx's workers (www-data) can pass through to reach appd's sockets: mode 0711, in
 * the temp directory, or in /tmp when the temp directory is out of their reach (a TMPDIR under a 0700
 * directory); removed after the test. Never a looser mode on a directory the test does not own.
 */
export function directoryForProxies(t: ExecutionContext): string {
  const base = [tmpdir(), '/tmp'].find((candidate) => traversableByOthers(candidate));
  if (base === undefined)
    throw new Error(`neither ${tmpdir()} nor /tmp can be passed through by other users: nginx's workers could not reach appd's socket`);
  const directory = mkdtempSync(join(base, 'appd-sockets-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  chmodSync(directory, 0o711);
  return directory;
}

/** Whether nginx's workers run as www-data here: the master must be root to switch. */
export const NGINX_AS_WWW_DATA = process.getuid?.() === 0;

/**
 * nginx with `recipe` (server and upstream blocks) in its http {} block, its prefix, logs and temp
 * files in a directory of its own; workers as www-data when the test runs as root. `port` is the
 * first port the recipe listens on (waited for).
 */
export async function startNginx(t: ExecutionContext, recipe: string, port: number): Promise<ProxyServer> {
  // www-data must reach its temp directories under this prefix.
  const directory = directoryForProxies(t);
  const recipePath = join(directory, 'recipe.conf');
  writeFileSync(recipePath, recipe);
  writeFileSync(
    join(directory, 'nginx.conf'),
    [
      'daemon off;',
      NGINX_AS_WWW_DATA ? 'user www-data www-data;' : '',
      'worker_processes 2;',
      `error_log ${join(directory, 'error.log')} warn;`,
      `pid ${join(directory, 'nginx.pid')};`,
      'events { worker_connections 1024; }',
      'http {',
      `    access_log ${join(directory, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(directory, `${kind}-temp`)};`),
      `    include ${recipePath};`,
      '}',
      '',
    ].join('\n'),
  );
  return startServer(
    t,
    directory,
    'nginx',
    ['-p', directory, '-c', join(directory, 'nginx.conf'), '-e', join(directory, 'error.log')],
    port,
  );
}

/** HAProxy in the foreground with `config` (a whole haproxy.cfg); `port` is the frontend's (waited for). */
export async function startHaproxy(t: ExecutionContext, config: string, port: number): Promise<ProxyServer> {
  const directory = tempDirectory(t, 'appd-haproxy-');
  const path = join(directory, 'haproxy.cfg');
  writeFileSync(path, config);
  return startServer(t, directory, 'haproxy', ['-db', '-f', path], port);
}

/** The uid a process runs as, from /proc. */
export function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((text) => text.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1] ?? -1);
}
