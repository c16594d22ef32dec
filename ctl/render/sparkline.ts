// Sparklines for `appctl top`: a series of numbers as a row of block characters (or ASCII without a
// UTF-8 locale), newest on the right. Run by appctl.

const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII = ['_', '.', ',', '-', '~', '=', '*', '#'];

export interface SparklineOptions {
  readonly unicode: boolean;
  /**
   * zero: heights from 0 to the largest value (rates: an idle worker is flat at the bottom).
   * range: from the smallest to the largest (memory: growth shows even on a large base).
   */
  readonly scale: 'zero' | 'range';
}

/** The last `width` values (null: no sample, shown as a space), right-aligned in `width` characters. */
export function sparkline(values: readonly (number | null)[], width: number, options: SparklineOptions): string {
  if (width <= 0) return '';
  const shown = values.slice(-width);
  const present = shown.filter((value): value is number => value !== null && Number.isFinite(value));
  const levels = options.unicode ? BLOCKS : ASCII;
  const top = levels.length - 1;
  const high = present.length > 0 ? Math.max(...present) : 0;
  const low = options.scale === 'zero' ? 0 : present.length > 0 ? Math.min(...present) : 0;
  const span = high - low;
  const cells = shown.map((value) => {
    if (value === null || !Number.isFinite(value)) return ' ';
    // All zero (a rate), or flat (memory): the bottom row.
    if (span <= 0) return levels[0] ?? ' ';
    return levels[Math.round(((value - low) / span) * top)] ?? ' ';
  });
  return cells.join('').padStart(width);
}
