export { runVlm3d } from './cli.js';
export { detectUnits, type IntensitySummary, type IntensityUnits, rescaleToHounsfield } from './hounsfield.js';
export { type ChallengePaths, challengePaths, findInputCases, type InputCase } from './inputs.js';
export { CT_RATE_LABELS, type CtRateLabel } from './labels.js';
export { type CasePrediction, type ResultsDocument, validateResults } from './results.js';
export {
  bareCaseId,
  type PathologyScores,
  readGroundTruth,
  readResults,
  scoreResults,
  VLM3D_THRESHOLD,
  type Vlm3dMetrics,
  type Vlm3dScore,
} from './score.js';
