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

/**
 * A distribution-free interval that holds the true median with at least `confidence`: the k-th
 * smallest and k-th largest values, k the largest rank with P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2.
 * Null for too few values (fewer than 6 for 95%). How the bench says how sure a median ratio is.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): { low: number; high: number } | null {
  const sorted = [...values].sort((left, right) => left - right);
  const count = sorted.length;
  const tail = (1 - confidence) / 2;
  // P(X = i) for X ~ Binomial(count, 1/2), summed from i = 0 while the sum stays within the tail.
  let probability = 0.5 ** count;
  let cumulative = 0;
  let rank = 0;
  for (let index = 0; index < count; index += 1) {
    if (cumulative + probability > tail) break;
    cumulative += probability;
    rank = index + 1;
    probability = (probability * (count - index)) / (index + 1);
  }
  if (rank === 0) return null;
  return { low: sorted[rank - 1] ?? Number.NaN, high: sorted[count - rank] ?? Number.NaN };
}
