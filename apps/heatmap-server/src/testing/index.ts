export { SyntheticAnalyzer } from './synthetic-analyzer.js';
export { syntheticVolume } from './synthetic-volume.js';
