/**
 * Scores sorted once (descending) with their groups of tied values, so the ranking metrics can be
 * evaluated many times over different case weights (bootstrap resamples) in one linear sweep each.
 * A weight is how many times a case counts; weights of 1 (the default) are the plain metrics, and
 * integer weights give exactly the metrics of the data with each case repeated that often.
 */
export class RankedScores {
  /** Case indices, highest score first. */
  readonly order: Uint32Array;
  /** groupEnds[g] is one past the last position (in `order`) of the g-th group of tied scores. */
  readonly groupEnds: Uint32Array;
  readonly scores: ArrayLike<number>;

  constructor(scores: ArrayLike<number>) {
    const n = scores.length;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => scores[b]! - scores[a]!);
    const ends: number[] = [];
    for (let k = 1; k <= n; k++) {
      if (k === n || scores[order[k]!] !== scores[order[k - 1]!]) ends.push(k);
    }
    this.order = order;
    this.groupEnds = Uint32Array.from(ends);
    this.scores = scores;
  }

  /**
   * Per group of tied scores (highest first), the positive and negative weight in it. Written into
   * the two arrays given (length ≥ number of groups) to avoid allocating inside bootstrap loops.
   */
  groupWeights(truth: ArrayLike<number>, weights: ArrayLike<number> | undefined, pos: Float64Array, neg: Float64Array) {
    let start = 0;
    for (let g = 0; g < this.groupEnds.length; g++) {
      const end = this.groupEnds[g]!;
      let p = 0;
      let q = 0;
      for (let k = start; k < end; k++) {
        const i = this.order[k]!;
        const w = weights === undefined ? 1 : weights[i]!;
        if (truth[i]! > 0) p += w;
        else q += w;
      }
      pos[g] = p;
      neg[g] = q;
      start = end;
    }
  }

  /**
   * Area under the ROC curve, exact with ties: the probability that a positive outranks a
   * negative, a tie counting one half (equal to the trapezoidal area under the ROC curve that
   * scikit-learn's roc_auc_score integrates). Null when the truth has only one class.
   */
  auroc(truth: ArrayLike<number>, weights?: ArrayLike<number>): number | null {
    const { pos, neg } = this.scratch(truth, weights);
    let positivesAbove = 0;
    let wins = 0;
    let negatives = 0;
    for (let g = 0; g < this.groupEnds.length; g++) {
      wins += neg[g]! * (positivesAbove + 0.5 * pos[g]!);
      positivesAbove += pos[g]!;
      negatives += neg[g]!;
    }
    if (positivesAbove === 0 || negatives === 0) return null;
    return wins / (positivesAbove * negatives);
  }

  /**
   * Average precision as scikit-learn defines it: Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score
   * thresholds taken from the highest down (no interpolation). Null when there is no positive
   * (scikit-learn returns 0 there with a warning; undefined is the honest answer).
   */
  averagePrecision(truth: ArrayLike<number>, weights?: ArrayLike<number>): number | null {
    const { pos, neg } = this.scratch(truth, weights);
    let positives = 0;
    for (let g = 0; g < this.groupEnds.length; g++) positives += pos[g]!;
    if (positives === 0) return null;
    let tp = 0;
    let fp = 0;
    let sum = 0;
    for (let g = 0; g < this.groupEnds.length; g++) {
      if (pos[g]! === 0) {
        fp += neg[g]!;
        continue;
      }
      tp += pos[g]!;
      fp += neg[g]!;
      sum += (pos[g]! / positives) * (tp / (tp + fp));
    }
    return sum;
  }

  private posBuffer: Float64Array | undefined;
  private negBuffer: Float64Array | undefined;

  private scratch(truth: ArrayLike<number>, weights: ArrayLike<number> | undefined) {
    if (truth.length !== this.scores.length) {
      throw new RangeError(`truth has ${truth.length} entries, scores ${this.scores.length}`);
    }
    const groups = this.groupEnds.length;
    this.posBuffer ??= new Float64Array(groups);
    this.negBuffer ??= new Float64Array(groups);
    this.groupWeights(truth, weights, this.posBuffer, this.negBuffer);
    return { pos: this.posBuffer, neg: this.negBuffer };
  }
}

/** AUROC of one label (see RankedScores.auroc). */
export function auroc(scores: ArrayLike<number>, truth: ArrayLike<number>, weights?: ArrayLike<number>): number | null {
  return new RankedScores(scores).auroc(truth, weights);
}

/** Average precision of one label (see RankedScores.averagePrecision). */
export function averagePrecision(
  scores: ArrayLike<number>,
  truth: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number | null {
  return new RankedScores(scores).averagePrecision(truth, weights);
}
