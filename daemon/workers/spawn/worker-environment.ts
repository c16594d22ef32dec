// The part of a worker's environment that comes from the master's: all of it, or only the names
// env-passthrough lists; with --user, the target user's HOME, USER, LOGNAME and SHELL. Run by the appd master.

import type { Identity } from './identity.js';

/** "NAME" matches itself; "PREFIX*" every name that starts with PREFIX ("LC_*", "NODE_*", "*"). */
function matcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((pattern) => !pattern.endsWith('*')));
  const prefixes = patterns.filter((pattern) => pattern.endsWith('*')).map((pattern) => pattern.slice(0, -1));
  return (name) => exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix));
}

/**
 * What a worker starts from before appd adds its own variables and the pool's --env: the master's
 * variables env-passthrough lets through, then, for a worker of another user, that user's account
 * (root's HOME would point its tools at /root: caches, npm, git config).
 */
export function workerEnvironment(master: NodeJS.ProcessEnv, passthrough: readonly string[], identity: Identity | null): NodeJS.ProcessEnv {
  const passes = matcher(passthrough);
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(master)) if (value !== undefined && passes(name)) environment[name] = value;
  const account = identity?.account;
  if (account) {
    environment['HOME'] = account.home;
    environment['USER'] = account.name;
    environment['LOGNAME'] = account.name;
    environment['SHELL'] = account.shell;
  }
  return environment;
}
