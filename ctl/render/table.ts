// Aligned text tables for appctl at a fixed width (80 columns): numbers right-aligned, one column may
// wrap its long values onto continuation lines. Run by appctl.

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
  /** Takes the width left over and wraps what does not fit (at most one column). */
  readonly wrap?: boolean;
}

export const SCREEN_WIDTH = 80;
/** The wrapping column keeps at least this many characters, even if the line passes SCREEN_WIDTH. */
const MIN_WRAP_WIDTH = 24;

function pad(text: string, width: number, align: 'left' | 'right'): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/** Splits `text` into pieces of at most `width` characters, preferring to break after a space or comma. */
function wrapText(text: string, width: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const window = rest.slice(0, width + 1);
    const at = Math.max(window.lastIndexOf(' '), window.lastIndexOf(','));
    const cut = at > width / 2 ? at + 1 : width;
    pieces.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut);
  }
  pieces.push(rest);
  return pieces;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], width = SCREEN_WIDTH): string[] {
  const widths = columns.map((column, index) => Math.max(column.header.length, ...rows.map((row) => (row[index] ?? '').length)));
  const natural = widths.reduce((sum, each) => sum + each, 0);
  // Two spaces between columns, one when that is what it takes to fit.
  const gap = natural + 2 * (columns.length - 1) <= width ? 2 : 1;
  const wrapIndex = columns.findIndex((column) => column.wrap);
  if (wrapIndex >= 0) {
    const others = natural - (widths[wrapIndex] ?? 0) + gap * (columns.length - 1);
    // Never narrower than MIN_WRAP_WIDTH: when another column is long (a config file's absolute path
    // in SOURCE), a wider line reads better than '(none' over ')'.
    widths[wrapIndex] = Math.max(
      columns[wrapIndex]?.header.length ?? 0,
      Math.min(widths[wrapIndex] ?? 0, Math.max(MIN_WRAP_WIDTH, width - others)),
    );
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, index) => pad(cell, widths[index] ?? 0, columns[index]?.align ?? 'left'))
      .join(' '.repeat(gap))
      .trimEnd();
  const lines = [line(columns.map((column) => column.header))];
  for (const row of rows) {
    const wrapped = wrapIndex >= 0 ? wrapText(row[wrapIndex] ?? '', widths[wrapIndex] ?? 1) : [];
    lines.push(line(wrapIndex >= 0 ? row.map((cell, index) => (index === wrapIndex ? (wrapped[0] ?? '') : cell)) : row));
    for (const continuation of wrapped.slice(1)) {
      lines.push(line(columns.map((_column, index) => (index === wrapIndex ? continuation : ''))));
    }
  }
  return lines;
}
