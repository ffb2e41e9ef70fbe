export { backboneGraph, EMBED_OUTPUTS, type EmbedderOptions, type Embedding, FrozenEmbedder } from './frozen.js';
