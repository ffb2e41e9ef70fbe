import { type BootstrapOptions, forEachResample, type Interval, percentileInterval } from '../metrics/bootstrap.js';
import { RankedScores } from '../metrics/ranking.js';
import type { CellPredictions } from './results.js';

/** Macro AUROC difference of arm A minus arm B on the same test cases, with a paired bootstrap. */
export interface PairedDifference {
  a: number | null;
  b: number | null;
  difference: number | null;
  interval: Interval | null;
  /**
   * Two-sided bootstrap p-value for "no difference": twice the smaller share of resamples on
   * either side of 0, with the +1 correction that keeps it above 0 for a finite number of
   * resamples, at most 1.
   */
  p: number | null;
  cases: number;
}

/** Mean over labels of the AUROCs that are defined (null when none is). */
function macroAuroc(ranked: readonly RankedScores[], truth: readonly number[][], weights?: ArrayLike<number>) {
  let sum = 0;
  let n = 0;
  ranked.forEach((r, l) => {
    const v = r.auroc(truth[l]!, weights);
    if (v === null) return;
    sum += v;
    n++;
  });
  return n === 0 ? null : sum / n;
}

/** Reorders B's predictions to A's case order, refusing arms scored on different cases. */
function aligned(a: CellPredictions, b: CellPredictions): CellPredictions {
  if (a.ids.length !== b.ids.length) throw new RangeError(`arms have ${a.ids.length} and ${b.ids.length} test cases`);
  const at = new Map(b.ids.map((id, i) => [id, i]));
  const order = a.ids.map((id) => {
    const i = at.get(id);
    if (i === undefined) throw new RangeError(`case ${id} is missing from the second arm`);
    return i;
  });
  const truthB = b.truth.map((t) => order.map((i) => t[i]!));
  if (truthB.some((t, l) => t.some((v, k) => v !== a.truth[l]?.[k]))) {
    throw new RangeError('the arms disagree on the truth of the same cases');
  }
  return {
    ids: a.ids,
    scores: b.scores.map((s) => order.map((i) => s[i]!)),
    truth: truthB,
  };
}

/**
 * The macro AUROC difference A − B on each bootstrap resample (null where either is undefined):
 * both arms see the same resampled cases. The same seed gives the same resamples for any pair.
 */
export function pairedSamples(a: CellPredictions, b: CellPredictions, options: BootstrapOptions): (number | null)[] {
  const bb = aligned(a, b);
  const rankedA = a.scores.map((s) => new RankedScores(s));
  const rankedB = bb.scores.map((s) => new RankedScores(s));
  const out: (number | null)[] = [];
  forEachResample(a.ids.length, options, (counts) => {
    const x = macroAuroc(rankedA, a.truth, counts);
    const y = macroAuroc(rankedB, a.truth, counts);
    out.push(x === null || y === null ? null : x - y);
  });
  return out;
}

/**
 * The paired case bootstrap: each resample draws the same cases (with the same multiplicities)
 * for both arms, so what varies is the difference itself, not two independent noises.
 */
export function pairedAurocDifference(
  a: CellPredictions,
  b: CellPredictions,
  options: BootstrapOptions,
): PairedDifference {
  const bb = aligned(a, b);
  const aurocA = macroAuroc(
    a.scores.map((s) => new RankedScores(s)),
    a.truth,
  );
  const aurocB = macroAuroc(
    bb.scores.map((s) => new RankedScores(s)),
    a.truth,
  );
  const differences = pairedSamples(a, b, options);
  const defined = differences.filter((d): d is number => d !== null);
  let p: number | null = null;
  if (defined.length > 0) {
    const below = defined.filter((d) => d <= 0).length;
    const above = defined.filter((d) => d >= 0).length;
    p = Math.min(1, (2 * (Math.min(below, above) + 1)) / (defined.length + 1));
  }
  return {
    a: aurocA,
    b: aurocB,
    difference: aurocA === null || aurocB === null ? null : aurocA - aurocB,
    interval: percentileInterval(differences, options.level ?? 0.95),
    p,
    cases: a.ids.length,
  };
}
