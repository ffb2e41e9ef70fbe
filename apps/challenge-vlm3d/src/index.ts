export { runVlm3d } from './cli.js';
export { type EvaluatorRead, evaluatorCaseId, readAsEvaluator } from './evaluator-read.js';
export { type ChallengePaths, challengePaths, findInputCases, type InputCase, WEIGHTS_LOCATIONS } from './inputs.js';
export { CT_RATE_LABELS, type CtRateLabel } from './labels.js';
export { readRescaleTable } from './metadata.js';
export { chooseThresholds, type PackagedWeights, type PackageOptions, packageWeights } from './package.js';
export { type CaseInput, challengeRecipe, prepareCase, type Rescale, readCase } from './preprocess.js';
export {
  type CasePrediction,
  type PlatformPredictions,
  PREDICTIONS_FILE,
  RESULTS_FILE,
  type ResultsDocument,
  validateResults,
  wrapForPlatform,
} from './results.js';
export { type RunOptions, runChallenge } from './run.js';
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
export { clearSubmission, writeSubmission } from './submission.js';
export { type Projection, TimeBudget } from './time-budget.js';
export { TRAIN_DEFAULTS, TRAIN_MODES, type TrainMode, type TrainOptions, trainCtRate } from './train.js';
export {
  BACKBONE_DIR,
  CHEST_WINDOWS,
  type ChallengeModel,
  checkChallengeCard,
  chestInput,
  DEFAULT_SPACING,
  loadChallengeModel,
  PLUGIN_DIR,
  SETTINGS_FILE,
  type Vlm3dSettings,
} from './weights.js';
