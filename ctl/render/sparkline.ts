// Sparklines for `appctl top`: a series of numbers as a row of block characters (or ASCII without a
// UTF-8 locale), newest on the right. Run by appctl.

const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII = ['_', '.', ',', '-', '~', '=', '*', '#'];

export interface SparklineOptions {
  readonly unicode: boolean;
}

/**
 * The last `width` values (null: no sample, shown as a space), right-aligned in `width` characters.
 * Heights run from 0 to the largest value shown, for rates and memory alike: an idle worker is flat at
 * the bottom, 344 MB then 345 MB is flat near the top (a min..max scale drew that as a ramp), and a 20%
 * rise is a step of a block or two, not a wall.
 */
export function sparkline(values: readonly (number | null)[], width: number, options: SparklineOptions): string {
  if (width <= 0) return '';
  const shown = values.slice(-width);
  const present = shown.filter((value): value is number => value !== null && Number.isFinite(value));
  const levels = options.unicode ? BLOCKS : ASCII;
  const top = levels.length - 1;
  const high = present.length > 0 ? Math.max(...present) : 0;
  const cells = shown.map((value) => {
    if (value === null || !Number.isFinite(value)) return ' ';
    // All zero (an idle rate): the bottom row.
    if (high <= 0) return levels[0] ?? ' ';
    return levels[Math.round((Math.max(0, value) / high) * top)] ?? ' ';
  });
  return cells.join('').padStart(width);
}
