import type { AnalysisProgress, AnalysisRequest, AnalysisResult, PluginInfo } from './analyzer.js';

/** The server → analysis process messages (process-analyzer.ts ↔ analyzer-child.ts). */
export type ParentMessage =
  | { type: 'init'; id: number; module: string; options: unknown }
  | { type: 'load'; id: number; dir: string }
  | { type: 'analyze'; id: number; request: Omit<AnalysisRequest, 'signal' | 'onProgress'> }
  | { type: 'abort'; id: number; job: number }
  | { type: 'close'; id: number };

/** The analysis process → server messages. */
export type ChildMessage =
  | { type: 'ready'; id: number; plugins: PluginInfo[] }
  | { type: 'loaded'; id: number; info: PluginInfo; plugins: PluginInfo[] }
  | { type: 'progress'; id: number; progress: AnalysisProgress }
  | { type: 'result'; id: number; result: AnalysisResult }
  /** `input`: an InputError's parts, so the server reports it as bad input, not as a crash. */
  | { type: 'error'; id: number; message: string; input?: { source: string; problem: string } }
  | { type: 'closed'; id: number };
