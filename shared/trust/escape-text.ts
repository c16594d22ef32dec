// Makes text from outside the master (worker output, client names, app error messages, a server's
// replies) safe for a log line or a terminal. Used by the appd master's logger and by appctl.

/**
 * What a terminal or a log reader would act on: C0 controls but tab (newline forges log lines, ESC
 * starts ANSI/OSC sequences), DEL, C1 controls (U+009B is CSI on some terminals), Unicode line and
 * paragraph separators, and bidirectional overrides that reorder what is shown (Trojan Source).
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_TEST = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\u001b': '\\e' };

function escapeOne(character: string): string {
  const named = NAMED[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The text with every unsafe character written as a visible escape ("\n", "\e", "\x07", "\u202e"). */
export function escapeControl(text: string): string {
  // The common case (nothing to escape) costs one scan and no allocation.
  return UNSAFE_TEST.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

/** escapeControl, cut to `maxCharacters` of the original with a note of how much was left out. */
export function escapeAndCut(text: string, maxCharacters: number): string {
  if (text.length <= maxCharacters) return escapeControl(text);
  return `${escapeControl(text.slice(0, maxCharacters))}... [${text.length - maxCharacters} more characters left out]`;
}

/**
 * The lines of a text from outside (an app's error and its stack, a worker's last output), each
 * escaped and cut at `maxCharacters`, at most `maxLines` of them (the last then counts the rest): for
 * a log, where each becomes a line with its own true prefix, so no text can start a line that looks
 * like appd's, and a stack stays readable. A final newline makes no empty last line.
 */
export function escapedLines(text: string, maxCharacters: number, maxLines: number): string[] {
  // The common case, one line, costs a scan and no allocation.
  if (!text.includes('\n')) return [escapeAndCut(text, maxCharacters)];
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const kept = lines.length > maxLines ? lines.slice(0, maxLines - 1) : lines;
  const escaped = kept.map((line) => escapeAndCut(line, maxCharacters));
  if (kept.length < lines.length) escaped.push(`... [${lines.length - kept.length} more lines of this message left out]`);
  return escaped;
}

/**
 * appd's own one-line message to stderr ("appd: ..."), whose text may carry an app's error: its first
 * line after "appd: ", the others indented under it, all escaped (the journal and a terminal read stderr).
 */
export function stderrMessage(text: string): string {
  const [first = '', ...rest] = escapedLines(text, 16 * 1024, 100);
  return `appd: ${first}\n${rest.map((line) => `  ${line}\n`).join('')}`;
}

/** For a terminal: like escapeControl, but newlines and tabs stay (a multi-line reply stays readable). */
const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const TERMINAL_UNSAFE_TEST = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

export function escapeForTerminal(text: string): string {
  return TERMINAL_UNSAFE_TEST.test(text) ? text.replace(TERMINAL_UNSAFE, escapeOne) : text;
}

/**
 * A copy of a decoded message with escapeForTerminal applied to every string in it, keys included
 * (pool names, log lines, error messages: all of it was written by someone else). Depth is bounded by
 * the frame decoder.
 */
export function escapeStringsForTerminal(value: unknown): unknown {
  if (typeof value === 'string') return escapeForTerminal(value);
  if (Array.isArray(value)) return value.map(escapeStringsForTerminal);
  if (typeof value !== 'object' || value === null) return value;
  // Plain objects only (a Date or a byte array is data, not text); fromEntries keeps a "__proto__" key an own property.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [escapeForTerminal(key), escapeStringsForTerminal(item)]));
}
