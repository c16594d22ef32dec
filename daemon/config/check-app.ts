// `appd --check-config` loads each HTTP pool's app the way its workers would: in a child process, as the
// worker's user and group, from the worker's directory, with its node options and environment, by the
// worker's own loader (daemon/worker/check-boot.ts). Run by the appd process given --check-config.

import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { AppLoadError, BootError, ConfigError, hasErrorCode, type AppdError } from '../../shared/errors.js';
import { CHECK_SPEC_VARIABLE, CHECK_VERDICT_FD, CHECK_VERDICT_LIMIT, type CheckSpec, type CheckVerdict } from '../contracts/app-check.js';
import { poolSettingsFromConfig, type PoolSettings } from '../pools/pool.js';
import { resolveIdentity } from '../workers/spawn/identity.js';
import { poolDirectory } from '../workers/spawn/http-worker.js';

const CHECK_BOOT = fileURLToPath(new URL('../worker/check-boot.js', import.meta.url));
/** The app's own output is kept only to explain a check process that died without a verdict. */
const OUTPUT_KEPT = 4096;

/** A TCP port the pool binds, for a script's PORT (what its workers get); nothing is bound by the check. */
function portOf(settings: PoolSettings): string | null {
  for (const bind of settings.bind) if (bind.kind === 'tcp' && bind.port !== 0) return String(bind.port);
  return null;
}

function errorFor(verdict: Extract<CheckVerdict, { ok: false }>, prefix: string): AppdError {
  const message = `${prefix}${verdict.message}`;
  if (verdict.phase === 'load') return new AppLoadError(message);
  if (verdict.phase === 'setting') return new ConfigError(message);
  return new BootError(message);
}

/** Boots one pool's app in a check process; resolves with what was found, rejects with the app's error. */
function checkPool(settings: PoolSettings, directory: string, prefix: string): Promise<string> {
  const identity = resolveIdentity(settings.user, settings.group, settings.name);
  const script = settings.script === null ? null : resolve(directory, settings.script);
  const spec: CheckSpec = { app: settings.app ?? '', script, adoptListen: settings.adoptListen };
  const port = portOf(settings);
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    ...(script !== null && port !== null ? { PORT: port } : {}),
    ...settings.env,
    APPD_POOL: settings.name,
    APPD_SLOT: '0',
    APPD_GENERATION: '0',
    [CHECK_SPEC_VARIABLE]: JSON.stringify(spec),
  };
  const entry = script === null ? [CHECK_BOOT] : ['--import', new URL('../worker/check-boot.js', import.meta.url).href, script];
  const child = spawn(process.execPath, [...settings.nodeArgs, ...entry, ...settings.args], {
    cwd: poolDirectory(settings).cwd ?? directory,
    env: environment,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // Its own process group: whatever the app started goes with it when the check ends.
    detached: true,
    ...(identity ? { uid: identity.uid, gid: identity.gid } : {}),
  });
  let output = '';
  let verdictText = '';
  const keepOutput = (text: string): void => {
    output = (output + text).slice(-OUTPUT_KEPT);
  };
  child.stdout?.setEncoding('utf8').on('data', keepOutput);
  child.stderr?.setEncoding('utf8').on('data', keepOutput);
  const verdictPipe = child.stdio[CHECK_VERDICT_FD] as Readable | null;
  verdictPipe?.setEncoding('utf8').on('data', (text: string) => {
    if (verdictText.length < CHECK_VERDICT_LIMIT + 2) verdictText += text;
  });
  return new Promise((settle, fail) => {
    const limit = setTimeout(() => {
      fail(
        new BootError(
          `${prefix}${script ?? settings.app} did not ${script ? 'reach listen()' : 'load'} within boot-timeout (${settings.bootTimeout}s)`,
        ),
      );
      killGroup(child.pid);
    }, settings.bootTimeout * 1000);
    child.once('error', (error) => {
      clearTimeout(limit);
      fail(new BootError(`${prefix}cannot start a check process: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      killGroup(child.pid);
      const verdict = parseVerdict(verdictText);
      if (verdict?.ok === true) return settle(verdict.detail);
      if (verdict) return fail(errorFor(verdict, prefix));
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const what = script
        ? `script ${script} ${how} before it called listen()`
        : `the check process ${how} while loading ${settings.app ?? ''}`;
      fail(new BootError(`${prefix}${what}${output.trim() ? `:\n${output.trim()}` : ''}`));
    });
  });
}

function parseVerdict(text: string): CheckVerdict | null {
  const line = text.split('\n')[0] ?? '';
  if (line === '') return null;
  try {
    return JSON.parse(line) as CheckVerdict;
  } catch (error) {
    if (error instanceof SyntaxError) return null; // cut short: reported as a check process without a verdict
    throw error;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: the group is gone already. EPERM: what is left runs as another uid than ours.
    if (!hasErrorCode(error, 'ESRCH', 'EPERM')) throw error;
  }
}

/**
 * Checks every HTTP pool's app, one after another; throws the first pool's error (exit 4 when the
 * module cannot be loaded, 3 when its factory fails or a script does not reach listen()). Returns a
 * line per pool for the "configuration OK" report.
 */
export async function checkAppsLoad(resolved: ResolvedConfig, startDirectory: string): Promise<string[]> {
  const config = resolved.values;
  const directory = config.chdir ? resolve(startDirectory, config.chdir) : startDirectory;
  // A worker inherits the master's umask; so does the check process (this process exits after the check).
  process.umask(config.umask);
  const pools = poolSettingsFromConfig(config).filter((pool) => pool.kind === 'http');
  const lines: string[] = [];
  for (const pool of pools) {
    const prefix = config.pools === null ? '' : `pool ${pool.name}: `;
    const detail = await checkPool(pool, directory, prefix);
    lines.push(`pool ${pool.name}: ${pool.script ? `script ${pool.script}` : `app ${pool.app ?? ''}`} ${detail}`);
  }
  return lines;
}
