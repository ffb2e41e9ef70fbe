import { type BootstrapOptions, forEachResample, type Interval, percentileInterval } from './bootstrap.js';
import { accuracy, balancedAccuracy, confusionAt, f1, precision, recall } from './confusion.js';
import { type CrgResult, crg } from './crg.js';
import { RankedScores } from './ranking.js';

/** The metrics reported per label and as a macro mean, keyed as the JSON output spells them. */
export const METRIC_NAMES = ['auroc', 'ap', 'precision', 'recall', 'f1', 'accuracy', 'balanced_accuracy'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Ranking metrics are null where undefined (one class in the truth); the rest are always defined. */
export type MetricSet = Record<'auroc' | 'ap', number | null> & Record<Exclude<MetricName, 'auroc' | 'ap'>, number>;

/**
 * Multi-label scores and truth, one column per label: `scores[l][i]` is the probability of label
 * l for case i, `truth[l][i]` is 1 when it is present.
 */
export interface LabelledScores {
  labels: readonly string[];
  scores: readonly ArrayLike<number>[];
  truth: readonly ArrayLike<number>[];
}

export interface Evaluation {
  labels: readonly string[];
  cases: number;
  threshold: number;
  /** Positive cases per label in the truth. */
  positives: number[];
  /** Unweighted mean over labels; AUROC and AP over the labels where they are defined. */
  macro: MetricSet;
  perLabel: MetricSet[];
  crg: CrgResult;
}

export type IntervalSet = Record<MetricName, Interval | null>;

export interface EvaluationIntervals {
  iterations: number;
  seed: number;
  level: number;
  macro: IntervalSet;
  perLabel: IntervalSet[];
  crg: Interval | null;
}

/** Mean of the defined values, null when none is (NaN-ignoring, like the VLM3D macro AUROC). */
function definedMean(values: readonly (number | null)[]): number | null {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v === null) continue;
    sum += v;
    n++;
  }
  return n === 0 ? null : sum / n;
}

function checkShape(data: LabelledScores): number {
  const L = data.labels.length;
  if (L === 0) throw new RangeError('no labels to evaluate');
  if (data.scores.length !== L || data.truth.length !== L) {
    throw new RangeError(`${L} labels but ${data.scores.length} score and ${data.truth.length} truth columns`);
  }
  const n = data.truth[0]!.length;
  for (let l = 0; l < L; l++) {
    if (data.scores[l]!.length !== n || data.truth[l]!.length !== n) {
      throw new RangeError(`label ${data.labels[l]} has a column of a different length than ${n}`);
    }
  }
  if (n === 0) throw new RangeError('no cases to evaluate');
  return n;
}

/** One pass over every label with optional case weights (bootstrap multiplicities). */
function evaluateWith(
  data: LabelledScores,
  ranked: readonly RankedScores[],
  threshold: number,
  weights?: ArrayLike<number>,
): { perLabel: MetricSet[]; macro: MetricSet; crg: CrgResult } {
  const perLabel = data.labels.map((_, l): MetricSet => {
    const truth = data.truth[l]!;
    const c = confusionAt(data.scores[l]!, truth, threshold, weights);
    return {
      auroc: ranked[l]!.auroc(truth, weights),
      ap: ranked[l]!.averagePrecision(truth, weights),
      precision: precision(c),
      recall: recall(c),
      f1: f1(c),
      accuracy: accuracy(c),
      balanced_accuracy: balancedAccuracy(c),
    };
  });
  const mean = (name: MetricName) => definedMean(perLabel.map((m) => m[name]));
  const macro: MetricSet = {
    auroc: mean('auroc'),
    ap: mean('ap'),
    precision: mean('precision')!,
    recall: mean('recall')!,
    f1: mean('f1')!,
    accuracy: mean('accuracy')!,
    balanced_accuracy: mean('balanced_accuracy')!,
  };
  return { perLabel, macro, crg: crg(data.scores, data.truth, threshold, weights) };
}

/**
 * Per-label and macro metrics with threshold metrics at `threshold` (score ≥ threshold is a
 * positive decision; zero division gives 0) and the pooled CRG at the same threshold.
 */
export function evaluate(data: LabelledScores, threshold = 0.5): Evaluation {
  const n = checkShape(data);
  const ranked = data.scores.map((s) => new RankedScores(s));
  const result = evaluateWith(data, ranked, threshold);
  const positives = data.truth.map((t) => {
    let p = 0;
    for (let i = 0; i < n; i++) if (t[i]! > 0) p++;
    return p;
  });
  return { labels: data.labels, cases: n, threshold, positives, ...result };
}

/**
 * Percentile bootstrap intervals for every number `evaluate` reports, resampling whole cases
 * (all labels of a case move together, so the macro and CRG intervals keep label correlation).
 * A resample where a metric is undefined (e.g. one class of a rare label) is left out of that
 * metric's interval; `resamples` on each interval says how many remained.
 */
export function bootstrapIntervals(
  data: LabelledScores,
  threshold: number,
  options: BootstrapOptions,
): EvaluationIntervals {
  const n = checkShape(data);
  const ranked = data.scores.map((s) => new RankedScores(s));
  const level = options.level ?? 0.95;
  const collect = () => Object.fromEntries(METRIC_NAMES.map((m) => [m, [] as (number | null)[]]));
  const macroValues = collect();
  const perLabelValues = data.labels.map(collect);
  const crgValues: (number | null)[] = [];
  forEachResample(n, options, (counts) => {
    const r = evaluateWith(data, ranked, threshold, counts);
    for (const m of METRIC_NAMES) {
      macroValues[m]!.push(r.macro[m]);
      r.perLabel.forEach((set, l) => {
        perLabelValues[l]![m]!.push(set[m]);
      });
    }
    crgValues.push(r.crg.CRG);
  });
  const intervals = (values: Record<string, (number | null)[]>) =>
    Object.fromEntries(METRIC_NAMES.map((m) => [m, percentileInterval(values[m]!, level)])) as IntervalSet;
  return {
    iterations: options.iterations,
    seed: options.seed,
    level,
    macro: intervals(macroValues),
    perLabel: perLabelValues.map(intervals),
    crg: percentileInterval(crgValues, level),
  };
}
