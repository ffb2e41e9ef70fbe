/** Weighted counts of one label's binary decisions against the truth. */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Decisions are positive where score ≥ threshold (the VLM3D scorer's rule at 0.5). */
export function confusionAt(
  scores: ArrayLike<number>,
  truth: ArrayLike<number>,
  threshold: number,
  weights?: ArrayLike<number>,
): Confusion {
  if (truth.length !== scores.length) {
    throw new RangeError(`truth has ${truth.length} entries, scores ${scores.length}`);
  }
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const w = weights === undefined ? 1 : weights[i]!;
    const predicted = scores[i]! >= threshold;
    if (truth[i]! > 0) {
      if (predicted) tp += w;
      else fn += w;
    } else if (predicted) fp += w;
    else tn += w;
  }
  return { tp, fp, tn, fn };
}

/** The ratio, or 0 when the denominator is 0 (scikit-learn's zero_division=0). */
function ratio(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

export function precision(c: Confusion): number {
  return ratio(c.tp, c.tp + c.fp);
}

export function recall(c: Confusion): number {
  return ratio(c.tp, c.tp + c.fn);
}

/** 2TP / (2TP + FP + FN), 0 when nothing is positive in truth or prediction. */
export function f1(c: Confusion): number {
  return ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);
}

export function accuracy(c: Confusion): number {
  return ratio(c.tp + c.tn, c.tp + c.tn + c.fp + c.fn);
}

/**
 * Mean recall over the classes present in the truth (scikit-learn's balanced_accuracy_score:
 * a class absent from the truth is left out of the mean rather than counted as 0).
 */
export function balancedAccuracy(c: Confusion): number {
  const rates: number[] = [];
  if (c.tp + c.fn > 0) rates.push(c.tp / (c.tp + c.fn));
  if (c.tn + c.fp > 0) rates.push(c.tn / (c.tn + c.fp));
  return rates.length === 0 ? 0 : rates.reduce((a, b) => a + b, 0) / rates.length;
}
