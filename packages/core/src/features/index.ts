export { canonicalJson, FeatureCache, type FeatureCacheKey, hashOf, safeName } from './cache.js';
export { type CacheFolderStats, cacheStats, type PruneResult, pruneCache } from './cache-maintenance.js';
