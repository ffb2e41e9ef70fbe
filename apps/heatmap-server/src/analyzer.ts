import type { VolumeFormat } from './volume-format.js';

/** What the server shows and checks about one loaded plugin (from its plugin.json card). */
export interface PluginInfo {
  /** Unique among loaded plugins; safe for a URL segment ([A-Za-z0-9._-]). */
  id: string;
  task: string;
  /** Label names in the plugin's order. */
  labels: string[];
  /** Per-label decision thresholds, same order as labels (absent: 0.5). */
  thresholds?: number[];
  backbone: { name: string; hash: string };
  /**
   * True when the plugin adds no LoRA to the backbone: every such plugin of a case is served
   * from one shared frozen-backbone pass, so adding one costs only its pooling and head.
   */
  frozenBackbone: boolean;
  /** The plugin folder's content hash, for provenance. */
  hash?: string;
}

export interface AnalysisProgress {
  /** 0..1 over the whole case. */
  fraction: number;
  /** A short word for the current step: 'reading', 'backbone', 'plugins', 'heatmaps', 'writing'. */
  stage: string;
}

export interface AnalysisRequest {
  /** The uploaded volume as stored (its format already sniffed from the content). */
  volumePath: string;
  format: VolumeFormat;
  /**
   * All plugins asked for this case, in one call, so the analyzer runs the frozen backbone once
   * for every plugin with `frozenBackbone` and once per LoRA plugin.
   */
  pluginIds: string[];
  /** A folder owned by this case; every file the analyzer writes goes here, atomically. */
  outDir: string;
  /** How people name the case (its upload name, else its id): the title of its montages and reports. */
  caseName?: string;
  onProgress(progress: AnalysisProgress): void;
  /** Aborted when the server shuts down; the job is re-queued at the next start. */
  signal: AbortSignal;
}

export interface AnalysisResult {
  /** The input volume as .nii.gz (under outDir): what the viewer shows under the heatmaps. */
  imagePath: string;
  /** plugin id → label → probability in [0, 1]. */
  predictions: Record<string, Record<string, number>>;
  /** plugin id → label → .nii.gz path (under outDir) on the input's voxel grid and affine. */
  heatmaps: Record<string, Record<string, string>>;
  /** plugin id → the case's self-contained HTML report for it (under outDir), where the analyzer writes one. */
  reports?: Record<string, string>;
}

/**
 * The inference boundary of the server: everything model-specific sits behind it. One instance
 * holds the backbone, loaded once and shared by every plugin.
 */
export interface CaseAnalyzer {
  /** Loaded plugins, current (a plugin loaded at run time appears here). */
  readonly plugins: readonly PluginInfo[];
  analyze(request: AnalysisRequest): Promise<AnalysisResult>;
  /**
   * Loads a plugin folder into the running analyzer. Refuses (with an InputError naming the
   * folder) a plugin whose backbone hash differs from the loaded backbone's.
   */
  loadPlugin(dir: string): Promise<PluginInfo>;
  /** Releases sessions and memory. */
  close?(): Promise<void>;
}

/** What the command line gives to build the analyzer from. */
export interface AnalyzerOptions {
  backbone: string;
  plugins: string[];
}

export type AnalyzerFactory = (options: AnalyzerOptions) => Promise<CaseAnalyzer>;
