// Starts a real nginx or HAProxy for a test, from the recipes in docs/proxies/ with temporary paths
// and ports swapped in, each with its own prefix, config, logs and pid; stops it (by its process
// group) after the test, even when it fails. Runs in the ava test process.

import type { ExecutionContext } from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT, tempDirectory } from './daemon.js';
import { isAlive, waitFor } from './processes.js';

export const RECIPES = join(PROJECT_ROOT, 'docs/proxies');

/**
 * A recipe from docs/proxies with each [from, to] replaced everywhere. A `from` the recipe no longer
 * contains fails the test: the docs and the test must not drift apart.
 */
export function recipeWith(name: string, replacements: readonly (readonly [string, string])[]): string {
  let text = readFileSync(join(RECIPES, name), 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`docs/proxies/${name} no longer contains ${JSON.stringify(from)}: update the test with the recipe`);
    text = text.split(from).join(to);
  }
  return text;
}

/** A self-signed certificate for shop.example in `directory`: [certificate, key]. */
export function selfSignedCertificate(directory: string): [string, string] {
  const [certificate, key] = [join(directory, 'shop.example.pem'), join(directory, 'shop.example.key')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=shop.example', '-days', '1', '-keyout', key, '-out', certificate], { stdio: 'ignore' });
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
      const gone = await waitFor(`${this.pid} to exit`, () => !isAlive(this.pid), 5000).then(() => true, () => false);
      if (gone) return;
    }
  }
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      settle(true);
    });
    socket.once('error', () => settle(false));
  });
}

async function startServer(t: ExecutionContext, directory: string, command: string, args: readonly string[], port: number): Promise<ProxyServer> {
  // Its own process group, so stop() ends the master and its workers together.
  const child = spawn(command, args, { cwd: directory, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new ProxyServer(directory, child);
  t.teardown(async () => {
    if (!t.passed) t.log(`--- ${command} output ---\n${server.output}\n--- error log ---\n${server.read('error.log')}`);
    await server.stop();
  });
  const exited = new Promise<never>((_settle, fail) => child.once('exit', (code) => fail(new Error(`${command} exited with ${code}:\n${server.output}${server.read('error.log')}`))));
  await Promise.race([waitFor(`${command} accepting on ${port}`, () => accepting(port), 20_000), exited]);
  return server;
}

/** Whether nginx's workers run as www-data here: the master must be root to switch. */
export const NGINX_AS_WWW_DATA = process.getuid?.() === 0;

/**
 * nginx with `recipe` (server and upstream blocks) in its http {} block, its prefix, logs and temp
 * files in a directory of its own; workers as www-data when the test runs as root. `port` is the
 * first port the recipe listens on (waited for).
 */
export async function startNginx(t: ExecutionContext, recipe: string, port: number): Promise<ProxyServer> {
  const directory = tempDirectory(t, 'appd-nginx-');
  // www-data must reach its temp directories under this prefix.
  chmodSync(directory, 0o711);
  const recipePath = join(directory, 'recipe.conf');
  writeFileSync(recipePath, recipe);
  writeFileSync(join(directory, 'nginx.conf'), [
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
  ].join('\n'));
  return startServer(t, directory, 'nginx', ['-p', directory, '-c', join(directory, 'nginx.conf'), '-e', join(directory, 'error.log')], port);
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
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1] ?? -1);
}
