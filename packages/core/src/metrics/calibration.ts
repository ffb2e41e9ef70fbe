import { RankedScores } from './ranking.js';

/** What a per-label operating point maximises on validation data. */
export type ThresholdCriterion = 'f1' | 'youden';

export const THRESHOLD_CRITERIA: readonly ThresholdCriterion[] = ['f1', 'youden'];

/** Thresholds are kept inside (0, 1) so the folding map stays defined and strictly monotone. */
const EDGE = 1e-6;

/**
 * The threshold (decision: score ≥ t) that maximises the criterion on validation scores:
 * F1, or Youden's J = sensitivity + specificity − 1. Every distinct cut of the sorted scores is
 * tried; the chosen t lies halfway between the lowest score called positive and the next lower
 * score, so it does not sit on a validation case. The first best cut from the top wins ties.
 * Null when the validation truth has only one class (no operating point can be learnt).
 */
export function selectThreshold(
  scores: ArrayLike<number>,
  truth: ArrayLike<number>,
  criterion: ThresholdCriterion,
): number | null {
  const ranked = new RankedScores(scores);
  const groups = ranked.groupEnds.length;
  const pos = new Float64Array(groups);
  const neg = new Float64Array(groups);
  ranked.groupWeights(truth, undefined, pos, neg);
  let P = 0;
  let N = 0;
  for (let g = 0; g < groups; g++) {
    P += pos[g]!;
    N += neg[g]!;
  }
  if (P === 0 || N === 0) return null;
  const value = (tp: number, fp: number) => (criterion === 'f1' ? (2 * tp) / (tp + fp + P) : tp / P - fp / N);
  let best = value(0, 0);
  let bestCut = 0;
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < groups; g++) {
    tp += pos[g]!;
    fp += neg[g]!;
    const v = value(tp, fp);
    if (v > best) {
      best = v;
      bestCut = g + 1;
    }
  }
  const scoreOfGroup = (g: number) => scores[ranked.order[g === 0 ? 0 : ranked.groupEnds[g - 1]!]!]!;
  // Nothing called positive: halfway between the top score and 1; everything: between the lowest and 0.
  const above = bestCut === 0 ? 1 : scoreOfGroup(bestCut - 1);
  const below = bestCut === groups ? 0 : scoreOfGroup(bestCut);
  const t = (above + below) / 2;
  return Math.min(1 - EDGE, Math.max(EDGE, t));
}

/**
 * The monotone map that moves the operating point t to 0.5: [0,t] → [0,0.5] and [t,1] → [0.5,1],
 * each piece linear. Folding per-label thresholds into the probabilities this way makes a fixed
 * 0.5 cut (as the VLM3D scorer uses) decide exactly as `p ≥ t` did, and leaves every ranking
 * metric (AUROC, AP) unchanged because the order of the scores is kept.
 */
export function foldThreshold(p: number, t: number): number {
  if (!(t > 0 && t < 1)) throw new RangeError(`threshold must lie in (0,1), got ${t}`);
  return p < t ? (0.5 * p) / t : 0.5 + (0.5 * (p - t)) / (1 - t);
}

/** The inverse of foldThreshold: from a calibrated probability back to the raw score. */
export function unfoldThreshold(q: number, t: number): number {
  if (!(t > 0 && t < 1)) throw new RangeError(`threshold must lie in (0,1), got ${t}`);
  return q < 0.5 ? 2 * q * t : t + 2 * (q - 0.5) * (1 - t);
}

/** Folds one label's scores; a null threshold (one-class validation) leaves them as they are. */
export function foldScores(scores: ArrayLike<number>, t: number | null): Float64Array {
  const out = Float64Array.from(scores);
  if (t === null) return out;
  for (let i = 0; i < out.length; i++) out[i] = foldThreshold(out[i]!, t);
  return out;
}

/** One threshold per label (see selectThreshold), e.g. chosen on the validation split. */
export function selectThresholds(
  data: { scores: readonly ArrayLike<number>[]; truth: readonly ArrayLike<number>[] },
  criterion: ThresholdCriterion,
): (number | null)[] {
  return data.scores.map((s, l) => selectThreshold(s, data.truth[l]!, criterion));
}

/** Folds every label's scores with its threshold, so a fixed 0.5 cut applies them all. */
export function foldAll(scores: readonly ArrayLike<number>[], thresholds: readonly (number | null)[]): Float64Array[] {
  if (thresholds.length !== scores.length) {
    throw new RangeError(`${scores.length} labels but ${thresholds.length} thresholds`);
  }
  return scores.map((s, l) => foldScores(s, thresholds[l]!));
}
