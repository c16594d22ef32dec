// Column layout for the tables of `appctl top`: natural widths, columns of low priority dropped when
// the terminal is narrow, one flexible column (a sparkline) taking what is left. Run by appctl.

import type { Painter, Role } from './style.js';

export interface TableColumn<Row> {
  readonly header: string;
  readonly align: 'left' | 'right';
  /** Higher stays longer when the terminal is too narrow for every column. */
  readonly priority: number;
  readonly text: (row: Row) => string;
  readonly tone?: (row: Row) => Role | null;
  /** Takes the width left over (within these bounds), for a chart drawn at that width. */
  readonly flexible?: { readonly minimum: number; readonly maximum: number; readonly draw: (row: Row, width: number) => string };
}

/** Two characters before each row: the selection marker. */
export const MARKER_WIDTH = 2;

export interface TableLayout<Row> {
  readonly columns: readonly TableColumn<Row>[];
  readonly widths: readonly number[];
  readonly gap: number;
}

export function layoutTable<Row>(columns: readonly TableColumn<Row>[], rows: readonly Row[], width: number): TableLayout<Row> {
  let kept = [...columns];
  const natural = (column: TableColumn<Row>): number =>
    column.flexible ? column.flexible.minimum : Math.max(column.header.length, ...rows.map((row) => column.text(row).length));
  const total = (gap: number): number => MARKER_WIDTH + kept.reduce((sum, column) => sum + natural(column), 0) + gap * (kept.length - 1);
  let gap = total(2) <= width ? 2 : 1;
  while (kept.length > 1 && total(gap) > width) {
    const lowest = kept.reduce((low, column) => (column.priority < low.priority ? column : low));
    kept = kept.filter((column) => column !== lowest);
    gap = total(2) <= width ? 2 : 1;
  }
  const widths = kept.map(natural);
  const flexibleIndex = kept.findIndex((column) => column.flexible);
  const flexible = kept[flexibleIndex]?.flexible;
  if (flexible) widths[flexibleIndex] = Math.min(flexible.maximum, flexible.minimum + Math.max(0, width - total(gap)));
  return { columns: kept, widths, gap };
}

function fit(text: string, width: number, align: 'left' | 'right'): string {
  const cut = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
  return align === 'right' ? cut.padStart(width) : cut.padEnd(width);
}

/** The column headers; `note` ("3 ↓ more") at the right end, over the last (least important) headers if need be. */
export function headerLine<Row>(layout: TableLayout<Row>, width: number, painter: Painter, note = ''): string {
  const cells = layout.columns.map((column, index) => fit(column.header, layout.widths[index] ?? 0, column.align));
  const suffix = note === '' ? '' : ` ${note}`;
  const headers = (' '.repeat(MARKER_WIDTH) + cells.join(' '.repeat(layout.gap))).slice(0, Math.max(0, width - suffix.length)).trimEnd();
  return painter.paint(headers, 'heading') + painter.escape(suffix.padStart(width - headers.length));
}

/** One row padded to the full width (so the selection's inverse spans the line), with its marker. */
export function rowLine<Row>(layout: TableLayout<Row>, row: Row, selected: boolean, width: number, painter: Painter): string {
  let used = MARKER_WIDTH;
  const cells = layout.columns.map((column, index) => {
    const cellWidth = layout.widths[index] ?? 0;
    used += cellWidth + (index > 0 ? layout.gap : 0);
    const text = column.flexible ? column.flexible.draw(row, cellWidth).padEnd(cellWidth) : fit(column.text(row), cellWidth, column.align);
    const tone = column.flexible ? 'chart' : column.tone?.(row);
    return tone ? painter.paint(painter.escape(text), tone) : painter.escape(text);
  });
  const line = `${selected ? '> ' : '  '}${cells.join(' '.repeat(layout.gap))}${' '.repeat(Math.max(0, width - used))}`;
  return selected ? painter.paint(line, 'selected') : line;
}
