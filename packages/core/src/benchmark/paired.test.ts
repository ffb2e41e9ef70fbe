import { describe, expect, it } from 'vitest';
import { forEachResample } from '../metrics/bootstrap.js';
import { pairedAurocDifference } from './paired.js';
import type { CellPredictions } from './results.js';

/** AUROC by its definition: the weighted share of (positive, negative) pairs ranked right, ties half. */
function pairwiseAuroc(scores: number[], truth: number[], w: ArrayLike<number>): number | null {
  let right = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (truth[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (truth[j] !== 0) continue;
      const weight = w[i]! * w[j]!;
      pairs += weight;
      right += weight * (scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0);
    }
  }
  return pairs === 0 ? null : right / pairs;
}

/** NumPy's default percentile (linear between order statistics). */
function percentile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const truth = [1, 0, 1, 0, 0, 1, 0, 1, 0, 0];
const a: CellPredictions = {
  ids: truth.map((_, i) => `c${i}`),
  scores: [[0.9, 0.2, 0.7, 0.4, 0.1, 0.35, 0.3, 0.8, 0.5, 0.2]],
  truth: [truth],
};
// Arm B lists the same cases in another order: the comparison must pair them by id.
const bScores = [0.6, 0.5, 0.4, 0.7, 0.2, 0.5, 0.1, 0.9, 0.3, 0.6];
const order = [3, 0, 9, 1, 8, 2, 7, 4, 6, 5];
const b: CellPredictions = {
  ids: order.map((i) => `c${i}`),
  scores: [order.map((i) => bScores[i]!)],
  truth: [order.map((i) => truth[i]!)],
};

describe('pairedAurocDifference', () => {
  it('matches a hand computation over the very same resamples', () => {
    const options = { iterations: 500, seed: 7 };
    const got = pairedAurocDifference(a, b, options);
    const all = new Uint32Array(10).fill(1);
    const aurocA = pairwiseAuroc(a.scores[0]!, truth, all)!;
    const aurocB = pairwiseAuroc(bScores, truth, all)!;
    expect(got.a).toBeCloseTo(aurocA, 12);
    expect(got.b).toBeCloseTo(aurocB, 12);
    expect(got.difference).toBeCloseTo(aurocA - aurocB, 12);
    const diffs: number[] = [];
    forEachResample(10, options, (counts) => {
      const x = pairwiseAuroc(a.scores[0]!, truth, counts);
      const y = pairwiseAuroc(bScores, truth, counts);
      if (x !== null && y !== null) diffs.push(x - y);
    });
    diffs.sort((u, v) => u - v);
    expect(got.interval!.resamples).toBe(diffs.length);
    expect(got.interval!.lo).toBeCloseTo(percentile(diffs, 0.025), 12);
    expect(got.interval!.hi).toBeCloseTo(percentile(diffs, 0.975), 12);
    const below = diffs.filter((d) => d <= 0).length;
    const above = diffs.filter((d) => d >= 0).length;
    expect(got.p).toBeCloseTo(Math.min(1, (2 * (Math.min(below, above) + 1)) / (diffs.length + 1)), 12);
  });

  it('gives no difference and p = 1 for identical arms, and the smallest p for a total reversal', () => {
    const same = pairedAurocDifference(a, a, { iterations: 200, seed: 1 });
    expect(same.difference).toBe(0);
    expect(same.interval).toMatchObject({ lo: 0, hi: 0 });
    expect(same.p).toBe(1);
    const reversed: CellPredictions = { ...a, scores: [a.scores[0]!.map((s) => 1 - s)] };
    const perfect: CellPredictions = { ...a, scores: [truth.map((t, i) => t * 0.5 + i * 0.01)] };
    const r = pairedAurocDifference(perfect, reversed, { iterations: 200, seed: 1 });
    expect(r.a).toBe(1);
    expect(r.interval!.lo).toBeGreaterThan(0);
    expect(r.p).toBeCloseTo(2 / (r.interval!.resamples + 1), 12);
  });

  it('refuses arms scored on different cases', () => {
    const other: CellPredictions = { ...b, ids: b.ids.map((id, i) => (i === 0 ? 'x' : id)) };
    expect(() => pairedAurocDifference(a, other, { iterations: 10, seed: 0 })).toThrow(/missing/);
  });
});
