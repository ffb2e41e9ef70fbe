export { canonicalJson, FeatureCache, type FeatureCacheKey, hashOf, safeName } from './cache.js';
