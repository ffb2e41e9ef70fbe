export { type Dinov2Config, ffnHidden, parseDinov2Config } from './config.js';
export { Dinov2Backbone, dinov2LoraTargets } from './dinov2.js';
export { bicubicResize } from './interpolate.js';
export { DINOV2_WEIGHT_FILES, dinov2CardFromConfig, loadDinov2 } from './load.js';
export { type Dinov2Weights, loadDinov2Weights, transpose2d } from './weights.js';
