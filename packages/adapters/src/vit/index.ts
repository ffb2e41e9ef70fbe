export { type Dinov2Config, ffnHidden, parseDinov2Config } from './config.js';
export { Dinov2Backbone, dinov2LoraTargets } from './dinov2.js';
export { Dinov3Backbone, dinov3LoraTargets } from './dinov3.js';
export { DINOV3_MODEL_TYPE, type Dinov3Config, parseDinov3Config } from './dinov3-config.js';
export { DINOV3_WEIGHT_FILES, dinov3CardFromConfig, loadDinov3 } from './dinov3-load.js';
export { type Dinov3Weights, loadDinov3Weights } from './dinov3-weights.js';
export { vitLoraTargets } from './encoder.js';
export { bicubicResize, resizePositionGrid } from './interpolate.js';
export { DINOV2_WEIGHT_FILES, dinov2CardFromConfig, loadDinov2 } from './load.js';
export { applyRope, type RopeTables, ropeTables } from './rope.js';
export { ImageTowerBackbone, towerLoraTargets } from './tower.js';
export {
  CLIP_MODEL_TYPES,
  parseOpenClipConfig,
  parseTowerConfig,
  SIGLIP_MODEL_TYPES,
  type TowerConfig,
  type TowerFamily,
} from './tower-config.js';
export {
  loadImageTower,
  loadOpenClipTower,
  OPEN_CLIP_PICKLE,
  OPEN_CLIP_WEIGHT_FILES,
  OPENAI_CLIP_NORMALISATION,
  SIGLIP_NORMALISATION,
  TOWER_WEIGHT_FILES,
  towerArchitecture,
} from './tower-load.js';
export { type Dinov2Weights, loadDinov2Weights, transpose2d } from './weights.js';
