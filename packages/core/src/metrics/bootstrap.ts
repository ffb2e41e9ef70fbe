import { Random } from '../util/random.js';

/** A percentile interval and how many resamples it rests on (those where the statistic was defined). */
export interface Interval {
  lo: number;
  hi: number;
  resamples: number;
}

export interface BootstrapOptions {
  /** Number of resamples (1000 is customary). */
  iterations: number;
  seed: number;
  /** Coverage, 0.95 for a 95% interval. */
  level?: number;
}

/**
 * The q-quantile (q in [0,1]) of sorted values with linear interpolation between order
 * statistics (NumPy's default `percentile` method).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantile of no values');
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return frac === 0 ? a : a + (b - a) * frac;
}

/** Percentile interval of the values (null entries dropped); null when none is defined. */
export function percentileInterval(values: readonly (number | null)[], level = 0.95): Interval | null {
  const defined = Float64Array.from(values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (defined.length === 0) return null;
  defined.sort();
  const tail = (1 - level) / 2;
  return { lo: quantileSorted(defined, tail), hi: quantileSorted(defined, 1 - tail), resamples: defined.length };
}

/**
 * Case-level bootstrap: each resample draws n cases with replacement and is given to `visit` as
 * a multiplicity per case (how many times each case was drawn), which the metrics take as
 * weights. Seeded, so the same seed gives the same resamples in any process.
 */
export function forEachResample(n: number, options: BootstrapOptions, visit: (counts: Uint32Array) => void): void {
  const random = Random.fromString(options.seed, 'bootstrap');
  const counts = new Uint32Array(n);
  for (let b = 0; b < options.iterations; b++) {
    counts.fill(0);
    for (let k = 0; k < n; k++) counts[random.int(n)]!++;
    visit(counts);
  }
}
