// Installs what the bench compares against, outside the repository: PM2 from npm into the scratch
// directory, wrk and gunicorn from Debian with apt-get. Anything that cannot be had is skipped with the
// reason, never faked. Runs in the bench process.

import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { hasErrorCode } from '../../shared/errors.js';
import { installEnvironment, lastLine, runCommand } from './run-command.js';

/** The PM2 release compared against (the one studied in research/pm2-and-node-managers.md). */
export const PM2_VERSION = '7.0.4';

export type Availability =
  { readonly available: true; readonly path: string; readonly version: string } | { readonly available: false; readonly reason: string };

export interface Baselines {
  readonly wrk: Availability;
  readonly pm2: Availability;
  readonly gunicorn: Availability;
}

function findOnPath(binary: string): string | null {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(directory, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT', 'EACCES', 'ENOTDIR')) throw error; // not in this directory: try the next one
    }
  }
  return null;
}

let aptUpdated = false;

/** A Debian package's binary: found, or installed with apt-get when we are root, or a reason. */
async function aptTool(binary: string, debianPackage: string, fixedPath: string, log: (line: string) => void): Promise<Availability> {
  const existing = existsSync(fixedPath) ? fixedPath : findOnPath(binary);
  if (existing === null) {
    if (process.getuid?.() !== 0)
      return { available: false, reason: `${binary} not installed and not root (apt-get install ${debianPackage})` };
    if (findOnPath('apt-get') === null) return { available: false, reason: `${binary} not installed and no apt-get here` };
    log(`installing ${debianPackage} with apt-get`);
    const env = installEnvironment({ DEBIAN_FRONTEND: 'noninteractive' });
    let install = await runCommand('apt-get', ['install', '-y', '-qq', '--no-install-recommends', debianPackage], {
      env,
      timeoutMs: 300_000,
    });
    if (install.code !== 0 && !aptUpdated) {
      aptUpdated = true;
      await runCommand('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
      install = await runCommand('apt-get', ['install', '-y', '-qq', '--no-install-recommends', debianPackage], {
        env,
        timeoutMs: 300_000,
      });
    }
    if (install.code !== 0) return { available: false, reason: `apt-get install ${debianPackage} failed: ${lastLine(install)}` };
  }
  const path = existsSync(fixedPath) ? fixedPath : findOnPath(binary);
  if (path === null) return { available: false, reason: `${debianPackage} installed but no ${binary} binary found` };
  const version = await runCommand(path, ['--version'], { timeoutMs: 10_000 });
  return { available: true, path, version: (version.stdout + version.stderr).trim().split('\n')[0] ?? '?' };
}

/** PM2 in SCRATCH/pm2 (its own node_modules; reused when the pinned version is already there). */
async function pm2(scratch: string, log: (line: string) => void): Promise<Availability> {
  const prefix = join(scratch, 'pm2');
  const packageJson = join(prefix, 'node_modules', 'pm2', 'package.json');
  const installed = (): string | null =>
    existsSync(packageJson) ? (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version : null;
  if (installed() !== PM2_VERSION) {
    mkdirSync(prefix, { recursive: true });
    // A package.json of its own, so npm installs here and never walks up into another project.
    writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'appd-bench-baselines', private: true }));
    log(`installing pm2@${PM2_VERSION} from npm into ${prefix}`);
    const install = await runCommand('npm', ['install', '--no-audit', '--no-fund', '--no-save', `pm2@${PM2_VERSION}`], {
      cwd: prefix,
      env: installEnvironment(),
      timeoutMs: 300_000,
    });
    if (install.code !== 0) return { available: false, reason: `npm install pm2@${PM2_VERSION} failed: ${lastLine(install)}` };
  }
  const version = installed();
  if (version === null) return { available: false, reason: `pm2 is not in ${prefix} after npm install` };
  return { available: true, path: join(prefix, 'node_modules', 'pm2', 'bin', 'pm2'), version };
}

export async function installBaselines(scratch: string, log: (line: string) => void): Promise<Baselines> {
  const wrk = await aptTool('wrk', 'wrk', '/usr/bin/wrk', log);
  const gunicorn = await aptTool('gunicorn', 'gunicorn', '/usr/bin/gunicorn', log);
  return { wrk, gunicorn, pm2: await pm2(scratch, log) };
}
