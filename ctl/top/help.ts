// The footer (the main keys) and the help screen of `appctl top`, both drawn from the key table, plus
// what each column means. Run by appctl.

import { KEY_BINDINGS } from './keys.js';
import type { Mode } from './model.js';
import type { Painter } from './style.js';

const COLUMNS_HELP = [
  'Pool keys act on the selected pool, or the pool of the selected worker.',
  'REQ/S: requests a second (over the last two heartbeats). ACT: in flight.',
  'LOOP: event-loop delay p99 (p50 above the logs). RSS, CPU%: from /proc.',
  'RST: restarts after exits the master did not ask for.',
  'TREND: REQ/S over the last two minutes.',
];

function keyName(key: string, unicode: boolean): string {
  const arrows: Readonly<Record<string, string>> = unicode ? { up: '↑', down: '↓' } : {};
  return arrows[key] ?? key.replace(/^S-(.)$/, (_match, letter: string) => letter.toUpperCase());
}

/** One line per binding with help; a binding without help joins the line above ("↑/↓"). */
export function helpLines(width: number, painter: Painter): string[] {
  const entries: { keys: string[]; help: string }[] = [];
  for (const binding of KEY_BINDINGS) {
    const first = keyName(binding.keys[0] ?? '', painter.unicode);
    const previous = entries.at(-1);
    if (binding.help === undefined && previous) previous.keys.push(first);
    else entries.push({ keys: [first], help: binding.help ?? '' });
  }
  const keyWidth = Math.max(...entries.map((entry) => entry.keys.join('/').length)) + 2;
  const lines = [painter.paint(' appctl top: keys'.padEnd(width), 'heading')];
  for (const entry of entries) {
    lines.push(
      `  ${painter.paint(painter.escape(entry.keys.join('/').padEnd(keyWidth)), 'key')}${painter.escape(entry.help.slice(0, Math.max(0, width - keyWidth - 2)))}`,
    );
  }
  lines.push('', ...COLUMNS_HELP.map((line) => painter.escape(` ${line}`.slice(0, width))));
  return lines;
}

/** The main keys, two spaces apart if they fit, else one, else as many as fit with help and quit last. */
export function footerLine(mode: Mode, width: number, painter: Painter): string {
  if (mode === 'confirm-upgrade') return painter.paint(painter.escape('y yes   n no'), 'key');
  if (mode === 'help') return `${painter.paint('any key', 'key')} closes the help  ${painter.paint('q', 'key')} quits`;
  const items = KEY_BINDINGS.flatMap((binding) => (binding.footer ? [binding.footer[painter.unicode ? 0 : 1]] : []));
  const fits = (list: readonly string[], gap: number): boolean => list.join(' '.repeat(gap)).length <= width;
  let shown = items;
  while (shown.length > 2 && !fits(shown, 1)) shown = [...shown.slice(0, shown.length - 3), ...shown.slice(-2)];
  const gap = fits(shown, 2) ? 2 : 1;
  return shown
    .map((item) => {
      const space = item.indexOf(' ');
      return painter.paint(painter.escape(item.slice(0, space)), 'key') + painter.escape(item.slice(space));
    })
    .join(' '.repeat(gap));
}
