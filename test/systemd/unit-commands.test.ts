// The commands in systemd/*.service work as written: ExecStart's flags start a daemon (paths moved into a
// temp directory), and ExecReload (appctl reload) reloads it and waits for the new generation.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { APPCTL, fixture, PROJECT_ROOT, startDaemon, tempDirectory } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';

/** One Exec line's words, with systemd's specifiers filled in and absolute paths moved under `root`. */
function commandOf(unit: string, key: 'ExecStart' | 'ExecReload', root: string): string[] {
  const line = new RegExp(`^${key}=(.+)$`, 'm').exec(readFileSync(join(PROJECT_ROOT, 'systemd', unit), 'utf8'))?.[1];
  if (!line) throw new Error(`${unit} has no ${key}=`);
  return line
    .replace(/%[Ni]/g, 'shop')
    .split(/\s+/)
    .map((word) => (word.startsWith('/') ? join(root, word) : word));
}

for (const unit of ['appd.service', 'appd@.service']) {
  test(`${unit}: ExecStart starts appd with its flags; ExecReload reloads and waits`, async (t) => {
    const root = tempDirectory(t, 'appd-unit-');
    const [program, ...start] = commandOf(unit, 'ExecStart', root);
    t.is(program, 'appd');
    const configIndex = start.indexOf('-c') + 1;
    t.true(configIndex > 0, 'the unit names a config file');
    const config = start[configIndex] ?? '';
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(config, `export default { app: ${JSON.stringify(fixture('pid-app.mjs'))}, bind: '127.0.0.1:0', workers: 2 };\n`);
    const chdirIndex = start.indexOf('--chdir') + 1;
    if (chdirIndex > 0) mkdirSync(start[chdirIndex] ?? '', { recursive: true }); // the instance's /srv/NAME
    mkdirSync(join(root, 'run/appd'), { recursive: true, mode: 0o700 }); // RuntimeDirectory=appd
    const daemon = await startDaemon(t, { args: start });
    t.regex(daemon.output, /\[INFO\] ready: 2 worker/);
    const socket = start[start.indexOf('--control-socket') + 1] ?? '';
    t.is(socket, join(root, 'run/appd/shop.sock'));

    const [reloadProgram, ...reload] = commandOf(unit, 'ExecReload', root);
    t.is(reloadProgram, 'appctl');
    t.true(existsSync(socket), 'the control socket is where ExecReload looks');
    const reloaded = spawnSync(process.execPath, [APPCTL, ...reload], { encoding: 'utf8', timeout: 60_000 });
    t.is(reloaded.status, 0, `${reloaded.stdout}${reloaded.stderr}`);
    // spawnSync blocked this process, so the daemon's log may still sit in the pipe: read it, then check.
    await daemon.waitForLog(/pool web reloaded: generation 2/, 5000);
    t.regex((await get(daemon.url)).body, /generation=2/);
  });
}
