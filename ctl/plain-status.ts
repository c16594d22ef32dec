// Recognises the command line of a plain `appctl status` (the one appctl answers without commander) and
// the global options that take a value. Run by appctl: by its bin, to name the code cache of the route,
// and by main.ts, to take that route.

import type { GlobalOptions } from './commands/context.js';

/** Global options that take a value as the next word (commander also accepts --name=X and -nX). */
export const GLOBAL_OPTIONS_WITH_VALUE: ReadonlySet<string> = new Set(['-n', '--name', '-s', '--socket', '--timeout']);

/**
 * The options of `appctl [-n NAME | -s SOCKET] [--json] [--raw] [--timeout S] status` when argv is exactly
 * that (each option spelled as a separate word), else null and commander parses. Health checks run
 * status every few seconds: commander is a sixth of its start-up.
 */
export function plainStatusOptions(argv: readonly string[]): GlobalOptions | null {
  const options: { name?: string; socket?: string; json?: boolean; raw?: boolean; timeout?: string } = {};
  let sawStatus = false;
  for (let index = 0; index < argv.length; index += 1) {
    const word = argv[index] ?? '';
    const value = argv[index + 1];
    if (word === 'status' && !sawStatus) sawStatus = true;
    else if (word === '--json') options.json = true;
    else if (word === '--raw') options.raw = true;
    else if (GLOBAL_OPTIONS_WITH_VALUE.has(word) && value !== undefined && !value.startsWith('-') && !sawStatus) {
      if (word === '-n' || word === '--name') options.name = value;
      else if (word === '-s' || word === '--socket') options.socket = value;
      else options.timeout = value;
      index += 1;
    } else return null;
  }
  return sawStatus ? options : null;
}
