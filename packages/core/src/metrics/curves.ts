import { RankedScores } from './ranking.js';

/**
 * The curves behind the evaluation pictures, defined as scikit-learn defines them so the plots
 * agree with what users compute elsewhere: `roc_curve(drop_intermediate=False)` and
 * `calibration_curve(strategy='uniform')`.
 */
export interface RocCurve {
  /** Starts at (0, 0) with threshold +∞, one point per distinct score, highest first. */
  fpr: number[];
  tpr: number[];
  thresholds: number[];
}

/** ROC points at every distinct score; null when the truth has only one class. */
export function rocCurve(scores: ArrayLike<number>, truth: ArrayLike<number>): RocCurve | null {
  const ranked = new RankedScores(scores);
  const groups = ranked.groupEnds.length;
  const pos = new Float64Array(groups);
  const neg = new Float64Array(groups);
  ranked.groupWeights(truth, undefined, pos, neg);
  const P = pos.reduce((a, b) => a + b, 0);
  const N = neg.reduce((a, b) => a + b, 0);
  if (P === 0 || N === 0) return null;
  const curve: RocCurve = { fpr: [0], tpr: [0], thresholds: [Number.POSITIVE_INFINITY] };
  let tp = 0;
  let fp = 0;
  let start = 0;
  for (let g = 0; g < groups; g++) {
    tp += pos[g]!;
    fp += neg[g]!;
    curve.fpr.push(fp / N);
    curve.tpr.push(tp / P);
    curve.thresholds.push(ranked.scores[ranked.order[start]!]!);
    start = ranked.groupEnds[g]!;
  }
  return curve;
}

export interface ReliabilityBin {
  /** Bin edges [lo, hi]: scores in (lo, hi] land here (the first bin also takes 0). */
  lo: number;
  hi: number;
  /** Mean predicted probability, observed fraction positive, and how many cases. */
  meanPredicted: number;
  fractionPositive: number;
  count: number;
}

/** Equal-width bins over [0, 1]; empty bins are left out, as calibration_curve does. */
export function reliabilityBins(scores: ArrayLike<number>, truth: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  const sum = new Float64Array(bins);
  const positives = new Float64Array(bins);
  const count = new Float64Array(bins);
  // numpy.linspace's inner edges (k·(1/bins), so 0.30000000000000004, not 0.3) and
  // searchsorted(side='left'): a score on an edge belongs to the bin below it.
  const step = 1 / bins;
  const inner = Array.from({ length: bins - 1 }, (_, k) => (k + 1) * step);
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i]!;
    let b = 0;
    while (b < inner.length && inner[b]! < p) b++;
    sum[b]! += p;
    positives[b]! += truth[i]! > 0 ? 1 : 0;
    count[b]! += 1;
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    out.push({
      lo: b / bins,
      hi: (b + 1) / bins,
      meanPredicted: sum[b]! / count[b]!,
      fractionPositive: positives[b]! / count[b]!,
      count: count[b]!,
    });
  }
  return out;
}
