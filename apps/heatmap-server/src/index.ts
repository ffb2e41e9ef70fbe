export { type AnalysisWorkerOptions, startAnalysisWorker } from './analysis-worker.js';
export type {
  AnalysisProgress,
  AnalysisRequest,
  AnalysisResult,
  AnalyzerFactory,
  AnalyzerOptions,
  CaseAnalyzer,
  PluginInfo,
} from './analyzer.js';
export { configFromArgs, configFromEnv, type Role, type ServerConfig } from './config.js';
export { createDefaultAnalyzer, DEFAULT_ANALYZER_MODULE } from './default-analyzer.js';
export { EngineAnalyzer } from './engine-analyzer.js';
export { AnalysisProcessEnded, ProcessAnalyzer, type ProcessAnalyzerOptions } from './process-analyzer.js';
export { ANALYSIS_QUEUE, type AnalysisJob, RedisAnalyzer } from './redis-analyzer.js';
export { type CreateServerOptions, createServer, type HeatmapServer } from './server.js';
export { renderSlicePng, type SliceAxis, type SliceRequest } from './slice-png.js';
export { detectVolumeFormat, type VolumeFormat } from './volume-format.js';
