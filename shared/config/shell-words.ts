// Splits a command line the way a POSIX shell does for APPD_CMD_ARGS: quotes and backslashes, no expansion.
// Used by the appd master's config resolver.

import { ConfigError } from '../errors.js';

export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let index = 0; index < line.length; index += 1) {
    const character = line[index] ?? '';
    if (quote === "'") {
      if (character === "'") quote = null;
      else current += character;
    } else if (quote === '"') {
      if (character === '"') quote = null;
      else if (character === '\\' && index + 1 < line.length && '"\\$`'.includes(line[index + 1] ?? '')) {
        current += line[index + 1];
        index += 1;
      } else current += character;
    } else if (character === "'" || character === '"') {
      quote = character;
      inWord = true;
    } else if (character === '\\' && index + 1 < line.length) {
      current += line[index + 1];
      index += 1;
      inWord = true;
    } else if (/\s/.test(character)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += character;
      inWord = true;
    }
  }
  if (quote) throw new ConfigError(`APPD_CMD_ARGS: unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (inWord) words.push(current);
  return words;
}
