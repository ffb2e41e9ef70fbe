import type { AnalyzerFactory } from './analyzer.js';
import { EngineAnalyzer } from './engine-analyzer.js';

/**
 * The analyzer the command line starts with: the real predict path (volume reading, the backbone
 * loaded once, plugins with one shared frozen-backbone pass, heatmaps on the input grid).
 */
export const createDefaultAnalyzer: AnalyzerFactory = (options) => EngineAnalyzer.create(options);

/** The same, as the analysis process (process-analyzer.ts) builds it from this module. */
export const createAnalyzer: AnalyzerFactory = createDefaultAnalyzer;

/** This module, for ProcessAnalyzer's `module`. */
export const DEFAULT_ANALYZER_MODULE = import.meta.url;
