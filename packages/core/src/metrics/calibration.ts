import { RankedScores } from './ranking.js';

/**
 * What a per-label operating point maximises on validation data: F1, Youden's J, or the VLM3D
 * CRG score. CRG over every (case, label) slot equals 1/(3 − 2J) with J = sensitivity +
 * specificity − 1 pooled over all slots (crg.ts), so its thresholds maximise the pooled J.
 */
export type ThresholdCriterion = 'f1' | 'youden' | 'crg';

export const THRESHOLD_CRITERIA: readonly ThresholdCriterion[] = ['f1', 'youden', 'crg'];

/**
 * Positive and negative counts over all labels. Pooled J = Σ_l TP_l/A − Σ_l FP_l/N is a sum of
 * per-label terms, so maximising each label's TP_l/A − FP_l/N on its own maximises the pooled J
 * (and CRG): a label's cut is weighed by the pooled totals, not its own prevalence.
 */
export interface PooledCounts {
  positives: number;
  negatives: number;
}

/** Thresholds are kept inside (0, 1) so the folding map stays defined and strictly monotone. */
const EDGE = 1e-6;

/**
 * The threshold (decision: score ≥ t) that maximises the criterion on validation scores:
 * F1, Youden's J = sensitivity + specificity − 1, or this label's share of the pooled J that CRG
 * ranks by (`pooled`: the counts over all labels; without it, CRG on this label alone = Youden). Every distinct cut of the sorted scores is
 * tried; the chosen t lies halfway between the lowest score called positive and the next lower
 * score, so it does not sit on a validation case. The first best cut from the top wins ties.
 * Null when the validation truth has only one class (no operating point can be learnt).
 */
export function selectThreshold(
  scores: ArrayLike<number>,
  truth: ArrayLike<number>,
  criterion: ThresholdCriterion,
  pooled?: PooledCounts,
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
  // CRG on one label alone pools over that label only: Youden's J.
  const [jP, jN] = criterion === 'crg' && pooled ? [pooled.positives, pooled.negatives] : [P, N];
  const value = (tp: number, fp: number) => (criterion === 'f1' ? (2 * tp) / (tp + fp + P) : tp / jP - fp / jN);
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

/**
 * One threshold per label (see selectThreshold), e.g. chosen on the validation split. With
 * `crg` the labels are weighed by the pooled positive and negative counts, so the set of cuts
 * maximises the CRG of the whole validation split at a fixed 0.5 after folding.
 */
export function selectThresholds(
  data: { scores: readonly ArrayLike<number>[]; truth: readonly ArrayLike<number>[] },
  criterion: ThresholdCriterion,
): (number | null)[] {
  const pooled = { positives: 0, negatives: 0 };
  for (const t of data.truth) {
    for (let i = 0; i < t.length; i++) {
      if (t[i]! > 0) pooled.positives++;
      else pooled.negatives++;
    }
  }
  return data.scores.map((s, l) => selectThreshold(s, data.truth[l]!, criterion, pooled));
}

/** Folds every label's scores with its threshold, so a fixed 0.5 cut applies them all. */
export function foldAll(scores: readonly ArrayLike<number>[], thresholds: readonly (number | null)[]): Float64Array[] {
  if (thresholds.length !== scores.length) {
    throw new RangeError(`${scores.length} labels but ${thresholds.length} thresholds`);
  }
  return scores.map((s, l) => foldScores(s, thresholds[l]!));
}
