/**
 * Workflows: what the CLI and both apps call to do a job on a task's cases, so they hold only
 * argument parsing and formatting. The one on-demand case source (each case read and prepared by
 * the plugin's recipe when training needs it, augmented per use) and the seg targets it reads.
 */
export { type AdaptedOptions, adaptedPredictions } from './adapted.js';
export { caseSources } from './case-sources.js';
export { caseViewVolumes } from './case-volumes.js';
export { type FitOptions, fitPlugin, foldRows, predictCases } from './fit-frozen.js';
export { type FitLoraOptions, fitLoraPlugin } from './fit-lora.js';
export {
  type Attempt,
  byLabel,
  type FitCurve,
  type Fitted,
  type WorkflowProgress,
  type WorkflowProgressSink,
} from './fit-result.js';
export { maskTokenGrid } from './seg-mask.js';
export { writeTrainingCurve } from './training-curve.js';
export { type VolumeCaseOptions, volumeCases } from './volume-cases.js';
