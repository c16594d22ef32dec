// Resolves --user and --group (names or numbers) to ids for spawning workers. Run by the appd master.

import { execFileSync } from 'node:child_process';
import { ConfigError } from '../../../shared/errors.js';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /**
   * The user's account as NSS has it, for HOME, USER, LOGNAME and SHELL; null when only --group was
   * given (the workers stay root's user).
   */
  readonly account: Account | null;
}

export interface Account {
  readonly name: string;
  readonly home: string;
  readonly shell: string;
}

/** getent passwd: name:password:uid:gid:gecos:home:shell. A uid with no entry gets "/" and /bin/sh. */
function accountOf(uid: number): Account {
  try {
    const fields =
      execFileSync('getent', ['passwd', String(uid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split('\n')[0]
        ?.split(':') ?? [];
    return { name: fields[0] || String(uid), home: fields[5] || '/', shell: fields[6] || '/bin/sh' };
  } catch (error) {
    // getent exits 2 for a uid with no entry (--user 12345); anything else (no getent at all) is not ours to hide.
    if (error instanceof Error && 'status' in error && error.status === 2) return { name: String(uid), home: '/', shell: '/bin/sh' };
    throw error;
  }
}

/** Looks a name up through NSS with id(1), so LDAP and systemd-userdb users work as well as /etc/passwd. */
function lookupId(flag: '-u' | '-g', name: string): number | null {
  try {
    return Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch (error) {
    if (error instanceof Error && 'status' in error) return null; // id exits 1 for an unknown user
    throw error;
  }
}

/** A user name or uid as a uid; null for an unknown name. */
export function userIdOf(user: string): number | null {
  return /^\d+$/.test(user) ? Number(user) : lookupId('-u', user);
}

/** A group name or gid as a gid; null for an unknown name. */
export function groupIdOf(group: string): number | null {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    const line = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const gid = line.split(':')[2];
    return gid === undefined ? null : Number(gid);
  } catch (error) {
    if (error instanceof Error && 'status' in error) return null; // getent exits 2 for an unknown group
    throw error;
  }
}

/** null when neither is set: workers run as the master does. */
export function resolveIdentity(user: string | null, group: string | null, pool: string): Identity | null {
  if (user === null && group === null) return null;
  if (process.getuid?.() !== 0) {
    throw new ConfigError(`pool ${pool}: --user/--group need appd to run as root (it runs as uid ${process.getuid?.()})`);
  }
  const uid = user === null ? 0 : userIdOf(user);
  if (uid === null) throw new ConfigError(`pool ${pool}: unknown user "${user}"`);
  let gid: number | null;
  if (group !== null) gid = groupIdOf(group);
  else gid = user === null ? 0 : lookupId('-g', user);
  if (gid === null) throw new ConfigError(`pool ${pool}: unknown group "${group}"`);
  return { uid, gid, account: user === null ? null : accountOf(uid) };
}
