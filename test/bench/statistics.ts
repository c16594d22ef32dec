// Small statistics for the bench: medians and position-wise averages. Runs in the bench process.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Averages lists position by position (busiest worker first in each), e.g. connections per worker over runs. */
export function averageByPosition(lists: readonly (readonly number[])[]): number[] {
  const width = Math.max(0, ...lists.map((list) => list.length));
  return Array.from(
    { length: width },
    (_unused, index) => lists.reduce((sum, list) => sum + (list[index] ?? 0), 0) / Math.max(1, lists.length),
  );
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
