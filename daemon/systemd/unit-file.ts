// `appd --print-systemd-unit` (PM2's `pm2 startup`): a systemd service unit that runs this very command
// line the way the shipped systemd/appd.service does (Type=notify, NotifyAccess=all, KillMode=mixed,
// ExecReload with appctl), with absolute paths. Run by the appd command, which prints it and exits.

import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ResolvedConfig } from '../../shared/config/resolve.js';
import { flagName, type AnySetting } from '../../shared/settings/define.js';
import { SETTINGS } from '../../shared/settings/table.js';
import { readPackageVersion } from '../../shared/version.js';
import type { ConfigSources } from '../config/sources.js';
import { nodeLauncher } from '../upgrade/node-launcher.js';

export const PRINT_UNIT_FLAG = '--print-systemd-unit';

/** Where the unit puts the control socket: RuntimeDirectory=appd, as appctl run by root looks. */
export function unitControlSocket(name: string): string {
  return `/run/appd/${name}.sock`;
}

export interface UnitInputs {
  readonly resolved: ResolvedConfig;
  readonly sources: ConfigSources;
  /** The Node to run, absolute (the name it was started by, see upgrade/node-launcher.ts). */
  readonly node: string;
  /** appd's main script, absolute. */
  readonly script: string;
}

/** Settings the unit expresses itself, so their flags leave ExecStart. */
const REPLACED_SETTINGS = new Set(['controlSocket', 'daemon']);
/** Moved to User=/Group= when given on the command line: the master then runs as that user. */
const IDENTITY_SETTINGS = new Set(['user', 'group']);

/**
 * One word of an Exec line: systemd splits on spaces, expands $VAR and %-specifiers and honours
 * double quotes with C-style escapes (systemd.service(5), "Command lines").
 */
export function execWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[\w@%+=:,./-]+$/.test(word)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/** A value on the right of a non-Exec key: only %-specifiers need escaping; a line break would start a new key. */
function unitValue(text: string): string {
  return text.replace(/%/g, '%%').replace(/[\r\n]+/g, ' ');
}

/** Environment="NAME=VALUE": quotes and C escapes, %-specifiers, but no $ expansion. */
function environmentAssignment(name: string, value: string): string {
  return `"${`${name}=${value}`.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\n/g, '\\n')}"`;
}

/** The argv without the flags of `settings` (and their values), nor --print-systemd-unit. */
function withoutFlags(argv: readonly string[], settings: readonly AnySetting[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index] ?? '';
    if (word === PRINT_UNIT_FLAG) continue;
    if (word === '--') {
      kept.push(...argv.slice(index));
      break;
    }
    const setting = settings.find((candidate) => {
      const long = flagName(candidate);
      const short = candidate.short;
      return word === long || word.startsWith(`${long}=`) || word === `--no-${long.slice(2)}` || (short !== undefined && (word === short || (word.startsWith(short) && !word.startsWith('--'))));
    });
    if (setting === undefined) {
      kept.push(word);
      continue;
    }
    // A separate value follows "--user NAME" and "-u NAME", not "--user=NAME", "-uNAME" or a boolean flag.
    const takesNext = !setting.kind.isFlag && !word.includes('=') && (word === flagName(setting) || word === setting.short);
    if (takesNext) index += 1;
  }
  return kept;
}

function givenOnCommandLine(resolved: ResolvedConfig, key: string): boolean {
  return (resolved.sources as Readonly<Record<string, { readonly kind: string }>>)[key]?.kind === 'argv';
}

/** appctl next to this appd (dist/daemon/appd.cjs -> dist/ctl/appctl.cjs, the bundle package.json's bin runs), or the command on PATH. */
function appctlCommand(node: string, script: string): string[] {
  const sibling = resolve(dirname(script), '../ctl/appctl.cjs');
  return existsSync(sibling) ? [node, sibling] : ['appctl'];
}

export function renderSystemdUnit({ resolved, sources, node, script }: UnitInputs): string {
  const values = resolved.values;
  const name = values.name;
  const socket = unitControlSocket(name);
  const moveIdentity = givenOnCommandLine(resolved, 'user') || givenOnCommandLine(resolved, 'group');
  const removed = SETTINGS.filter((setting) => REPLACED_SETTINGS.has(setting.key) || (moveIdentity && IDENTITY_SETTINGS.has(setting.key)));
  const argv = withoutFlags(sources.argv, removed);
  const nameGiven = givenOnCommandLine(resolved, 'name');
  const start = [node, script, ...(nameGiven ? [] : ['--name', name]), '--control-socket', socket, ...argv];
  const reload = [...appctlCommand(node, script), '--socket', socket, 'reload'];
  const identity: string[] = [];
  if (moveIdentity) {
    if (values.user !== null) identity.push(`User=${unitValue(values.user)}`);
    if (values.group !== null) identity.push(`Group=${unitValue(values.group)}`);
  } else if (values.user !== null || values.group !== null) {
    identity.push(`# The master runs as root and starts its workers as ${unitValue(values.user ?? 'root')}${values.group === null ? '' : `:${unitValue(values.group)}`} (--user/--group set outside the command line).`);
  } else {
    identity.push('# Runs as root. To run as another user: --user NAME on the command line that printed this unit.');
  }
  const environment = sources.environmentArguments ? [`Environment=${environmentAssignment('APPD_CMD_ARGS', sources.environmentArguments)}`] : [];
  const stopSeconds = Math.ceil(values.gracefulTimeout) + 15;
  const startSeconds = Math.max(60, Math.ceil(values.bootTimeout) + 30);
  const command = unitValue(['appd', ...sources.argv].join(' '));
  return `# ${name}.service, printed by appd ${readPackageVersion()} --print-systemd-unit for:
#   ${command}
# in ${sources.directory}. Install and start it:
#   appd ... --print-systemd-unit > /etc/systemd/system/${name}.service
#   systemctl daemon-reload && systemctl enable --now ${name}
# See man appd(8), section SYSTEMD, and systemd/appd.service in the package for hardening to add.

[Unit]
Description=appd: ${unitValue(name)} (Node.js app server)
Documentation=man:appd(8)
After=network.target

[Service]
# READY=1 once the first generation serves; RELOADING=1/READY=1 around reloads; MAINPID= after an upgrade.
Type=notify
NotifyAccess=all
${identity.join('\n')}
WorkingDirectory=${unitValue(isAbsolute(sources.directory) ? sources.directory : resolve(sources.directory))}
${environment.map((line) => `${line}\n`).join('')}ExecStart=${start.map(execWord).join(' ')}
ExecReload=${reload.map(execWord).join(' ')}
# TERM to the master only: it drains its workers (graceful-timeout ${values.gracefulTimeout} s) and runs onExit.
KillMode=mixed
TimeoutStopSec=${stopSeconds}
TimeoutStartSec=${startSeconds}
WatchdogSec=30
Restart=on-failure
RestartSec=1
# 2: bad flags or config, 4: the app cannot be imported; restarting will not help.
RestartPreventExitStatus=2 4
RuntimeDirectory=appd
RuntimeDirectoryMode=0700
RuntimeDirectoryPreserve=yes
LimitNOFILE=65536
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
`;
}

/** The unit for this process's own command line: its Node as named, its script, from where it was started. */
export function printableUnit(resolved: ResolvedConfig, sources: ConfigSources): string {
  const node = nodeLauncher(process.argv0, null, process.env['PATH'], sources.directory, process.execPath);
  return renderSystemdUnit({ resolved, sources, node, script: resolve(sources.directory, process.argv[1] ?? '') });
}
