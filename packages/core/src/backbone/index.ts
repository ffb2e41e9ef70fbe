export {
  BackboneEmbedder,
  type BakedLora,
  backboneGraph,
  buildBackboneGraph,
  EMBED_OUTPUTS,
  type EmbedderOptions,
  type Embedding,
  embedInBatches,
  requirePatchTokens,
} from './embedder.js';
export { DEFAULT_LORA, type LoraConfig, loraConv, loraDelta, loraLinear, loraParamCount } from './lora.js';
export { tokenPrecision } from './token-precision.js';
export type {
  Backbone,
  BackboneCard,
  BackboneValues,
  BuildOptions,
  IntegerBackboneValues,
  LoraTarget,
} from './types.js';
