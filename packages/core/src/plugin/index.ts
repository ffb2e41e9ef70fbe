export {
  type PluginBackbone,
  type PluginCard,
  pluginBackbone,
  servedPrecision,
  type TaskCard,
} from './card.js';
export { inputViews, type PluginInput, pluginInput, prepareVolume } from './input.js';
export { type LoadedPlugin, type LoadPluginOptions, loadPlugin, type Prediction, probabilitiesOf } from './load.js';
export {
  bceLoss,
  type ClassificationLoss,
  crossEntropyLoss,
  DEFAULT_FOCAL,
  diceBceLoss,
  type FocalOptions,
  focalLoss,
} from './losses.js';
export { addViewQueries } from './multi-view.js';
export {
  classificationLoss,
  HEAD_BIAS,
  HEAD_WEIGHT,
  initPluginWeights,
  type PluginSpec,
  type PluginWeights,
  pluginHead,
  pluginParamCount,
  QUERY,
  type TaskKind,
} from './plugin-graph.js';
export { queryPool } from './pooling.js';
export {
  augmentCase,
  type PreparedCase,
  prepareCaseMask,
  prepareCaseVolume,
  recipeFeatureCache,
  recipeKey,
} from './recipe.js';
export { PLUGIN_CARD, PLUGIN_WEIGHTS, readPlugin, readPluginCard, savePlugin } from './store.js';
export { viewLoraWeights } from './view-lora.js';
