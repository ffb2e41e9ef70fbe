export { AdamW, type AdamWState, type ParamGroup } from './adamw.js';
export {
  type CaseUse,
  LoraTrainer,
  type LoraTrainerOptions,
  type VolumeCase,
  type VolumeView,
} from './backbone-trainer.js';
export {
  type CandidateArgs,
  type CandidateRun,
  type ScoredCandidate,
  trainCandidates,
} from './candidates.js';
export { CHECKPOINT, resumeCheckpoint, saveCheckpoint } from './checkpoint.js';
export {
  buildHeadTrainGraph,
  caseView,
  type FeatureCase,
  type FeatureView,
  featureGradient,
  labelTensor,
  padBatch,
  viewInputs,
} from './features.js';
export {
  type BatchGradient,
  batchCases,
  DEFAULT_OPTIM,
  type OptimOptions,
  type Progress,
  runTraining,
  type TrainState,
} from './loop.js';
export { clipGradNorm, cosineWithWarmup } from './schedule.js';
export { type TrainedPlugin, type TrainPluginArgs, type TrainSource, trainPlugin } from './train-plugin.js';
