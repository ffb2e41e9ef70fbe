export {
  type MriNormalisation,
  readTaskCard,
  SLICE_AXES,
  type SliceAxis,
  TASK_KINDS,
  TASK_METRICS,
  type TaskCard,
  type TaskData,
  type TaskKind,
  type TaskMetric,
  type TaskView,
  validateTaskCard,
} from './card.js';
// The benchmark's task catalogue: the paper's public task cards shipped in assets/tasks/.
export { listTaskCards, TASK_CARDS_DIR, taskCard } from './catalogue.js';
export {
  casesOf,
  type Manifest,
  type ManifestCase,
  type ManifestOptions,
  readManifest,
  SPLITS,
  type Split,
} from './manifest.js';
export { pluginTaskOf, taskInput } from './plugin-task.js';
