/**
 * The VLM3D CRG score and its parts, named as the official crg_score.py writes them
 * (forithmus/VLM3D-Dockers: ct_challenges/reportgen_evaluation/src/crg_score.py).
 */
export interface CrgResult {
  TP: number;
  FN: number;
  FP: number;
  /** #labels × #cases. */
  X: number;
  /** Positive labels in the ground truth. */
  A: number;
  r: number | null;
  U: number;
  score_s: number | null;
  /** Null when the ground truth has no positive at all (the official script raises there). */
  CRG: number | null;
}

/**
 * CRG from pooled counts over every (case, label): r = (X−A)/(2A), U = (X−A)/2,
 * s = r·TP − r·FN − FP, CRG = U/(2U − s), and 0 when 2U − s = 0 (as the official script does).
 * It pays for a true positive in proportion to how rare positives are.
 */
export function crgFromCounts(counts: { TP: number; FN: number; FP: number; X: number; A: number }): CrgResult {
  const { TP, FN, FP, X, A } = counts;
  const U = (X - A) / 2;
  if (A === 0) return { TP, FN, FP, X, A, r: null, U, score_s: null, CRG: null };
  const r = (X - A) / (2 * A);
  const s = r * TP - r * FN - FP;
  const den = 2 * U - s;
  return { TP, FN, FP, X, A, r, U, score_s: s, CRG: den === 0 ? 0 : U / den };
}

/**
 * CRG of a multi-label prediction: `scores[l][i]` and `truth[l][i]` for label l and case i,
 * decisions positive where score ≥ threshold (0.5 in the challenge).
 */
export function crg(
  scores: readonly ArrayLike<number>[],
  truth: readonly ArrayLike<number>[],
  threshold = 0.5,
  weights?: ArrayLike<number>,
): CrgResult {
  let TP = 0;
  let FN = 0;
  let FP = 0;
  let A = 0;
  let cases = 0;
  const n = truth[0]?.length ?? 0;
  for (let i = 0; i < n; i++) cases += weights === undefined ? 1 : weights[i]!;
  for (let l = 0; l < truth.length; l++) {
    const s = scores[l]!;
    const t = truth[l]!;
    for (let i = 0; i < n; i++) {
      const w = weights === undefined ? 1 : weights[i]!;
      const predicted = s[i]! >= threshold;
      if (t[i]! > 0) {
        A += w;
        if (predicted) TP += w;
        else FN += w;
      } else if (predicted) FP += w;
    }
  }
  return crgFromCounts({ TP, FN, FP, X: truth.length * cases, A });
}
