export {
  type BootstrapOptions,
  forEachResample,
  type Interval,
  percentileInterval,
  quantileSorted,
} from './bootstrap.js';
export {
  foldAll,
  foldScores,
  foldThreshold,
  selectThreshold,
  selectThresholds,
  THRESHOLD_CRITERIA,
  type ThresholdCriterion,
  unfoldThreshold,
} from './calibration.js';
export {
  accuracy,
  balancedAccuracy,
  type Confusion,
  confusionAt,
  f1,
  precision,
  recall,
} from './confusion.js';
export { type CrgResult, crg, crgFromCounts } from './crg.js';
export { type ReliabilityBin, type RocCurve, reliabilityBins, rocCurve } from './curves.js';
export {
  bootstrapIntervals,
  type Evaluation,
  type EvaluationIntervals,
  evaluate,
  type IntervalSet,
  type LabelledScores,
  METRIC_NAMES,
  type MetricName,
  type MetricSet,
} from './evaluate.js';
export { auroc, averagePrecision, RankedScores } from './ranking.js';
export { type EvaluationReport, evaluationReport, formatEvaluationTable } from './report.js';
