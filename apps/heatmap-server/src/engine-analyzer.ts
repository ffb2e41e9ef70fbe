import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ADAPTERS_VERSION, resolveBackbone } from '@anymc3d/adapters';
import { CORE_VERSION } from '@anymc3d/core';
import { type Backbone, BackboneEmbedder } from '@anymc3d/core/backbone';
import type { Precision } from '@anymc3d/core/graph';
import {
  type CaseHeatmap,
  caseHeatmaps,
  caseMontage,
  HEATMAP_NIFTI,
  type HeatmapPlugin,
  heatmapEmbedOptions,
  pluginEmbedder,
  reportLabels,
  writeCaseReport,
} from '@anymc3d/core/heatmap';
import { embedVolume, type ViewInput, type VolumeEmbedding } from '@anymc3d/core/pipeline';
import {
  inputViews,
  PLUGIN_CARD,
  PLUGIN_WEIGHTS,
  type PluginInput,
  pluginInput,
  prepareCaseVolume,
  readPlugin,
  recipeKey,
  servedPrecision,
} from '@anymc3d/core/plugin';
import { type Processed, readVolume, writeVolume } from '@anymc3d/core/volume';
import type { AnalysisRequest, AnalysisResult, AnalyzerOptions, CaseAnalyzer, PluginInfo } from './analyzer.js';
import { checkServedViews } from './served-views.js';

interface Loaded {
  info: PluginInfo;
  /** Card and weights: core's caseHeatmaps gives both the probabilities and the maps from them. */
  plugin: HeatmapPlugin;
  /**
   * LoRA plugins: per view (card order), the backbone with that view's LoRA baked in, kept so each
   * session is built once.
   */
  adapted?: BackboneEmbedder[];
  /** The plugin's input as recorded in its card: what the volume is normalised by and sliced into. */
  input: PluginInput;
  /** Its views in card order; several only when all read the uploaded volume (checkServedViews). */
  views: ViewInput[];
}

/** Plugins that read the same normalised volume share it. */
const volumeKey = (input: PluginInput) => JSON.stringify(recipeKey(input));
/** The arithmetic a plugin's backbone pass is served in (its card's training tokens'; fp32 for LoRA). */
const precisionOf = (l: Loaded): Precision => servedPrecision(l.plugin.card);
/** Plugins that read the same slices of the same normalised volume in one arithmetic share a backbone pass. */
const viewKey = (l: Loaded, view: ViewInput) =>
  JSON.stringify([recipeKey(l.input), view.axis, view.size, view.channels, view.slices ?? null, precisionOf(l)]);

/**
 * The real inference engine behind the server: the backbone is loaded once; every frozen-backbone
 * plugin view that reads the same slices shares one backbone pass per case (a plugin then costs only
 * its pooling, head and maps); a LoRA plugin runs its own adapted pass per view. A multi-view plugin
 * is served when all its views are views of the uploaded volume (axial/coronal/sagittal). Probabilities and heatmaps both
 * come from core's `caseHeatmaps` on that pass, so the server's map is the one `anymc3d heatmap`
 * writes for the same plugin and volume.
 */
export class EngineAnalyzer implements CaseAnalyzer {
  private readonly loaded = new Map<string, Loaded>();
  /** Frozen-backbone passes run so far (one per case and distinct view, shared by plugins and their views). */
  backbonePasses = 0;

  /** One frozen session per arithmetic the loaded plugins were trained in (fp32 unless a card says int8). */
  private readonly embedders = new Map<Precision, BackboneEmbedder>();

  private constructor(
    private readonly backbone: Backbone,
    private readonly threads: number | undefined,
  ) {}

  private embedderFor(precision: Precision): BackboneEmbedder {
    let e = this.embedders.get(precision);
    if (!e) {
      e = new BackboneEmbedder(this.backbone, { precision, ...(this.threads ? { threads: this.threads } : {}) });
      this.embedders.set(precision, e);
    }
    return e;
  }

  static async create(options: AnalyzerOptions & { threads?: number }): Promise<EngineAnalyzer> {
    const backbone = await resolveBackbone(options.backbone);
    const analyzer = new EngineAnalyzer(backbone, options.threads);
    for (const dir of options.plugins) await analyzer.loadPlugin(dir);
    return analyzer;
  }

  get plugins(): readonly PluginInfo[] {
    return [...this.loaded.values()].map((l) => l.info);
  }

  /**
   * A plugin folder as the server lists it, given the ids already taken (a second plugin of one task
   * gets `task-2`): refuses a plugin trained on other backbone weights or reading views the server
   * cannot serve. Shared with the Redis mode, whose server lists plugins without loading sessions.
   */
  static async describePlugin(
    dir: string,
    backbone: Backbone,
    taken: ReadonlySet<string>,
  ): Promise<{ info: PluginInfo; plugin: HeatmapPlugin; input: PluginInput }> {
    const { card, weights } = await readPlugin(dir, { name: backbone.card.name, weightHash: backbone.weightHash });
    const input = pluginInput(card, join(dir, PLUGIN_CARD));
    checkServedViews(input, join(dir, PLUGIN_CARD));
    const base = card.task.replace(/[^A-Za-z0-9._-]/g, '-') || 'plugin';
    let id = base;
    for (let k = 2; taken.has(id); k++) id = `${base}-${k}`;
    const hash = createHash('sha256')
      .update(await readFile(join(dir, PLUGIN_WEIGHTS)))
      .digest('hex');
    const info: PluginInfo = {
      id,
      task: card.task,
      labels: [...card.labels],
      thresholds: [...card.thresholds],
      backbone: { name: card.backbone.name, hash: card.backbone.weightHash },
      frozenBackbone: card.lora === null,
      hash,
    };
    return { info, plugin: { card, weights, source: dir }, input };
  }

  async loadPlugin(dir: string): Promise<PluginInfo> {
    const { info, plugin, input } = await EngineAnalyzer.describePlugin(
      dir,
      this.backbone,
      new Set(this.loaded.keys()),
    );
    const { id } = info;
    const card = plugin.card;
    const views = inputViews(input, this.backbone.card);
    // Each view has its own LoRA (view{v}.lora.* in a multi-view plugin), so its own adapted backbone.
    const adapted =
      card.lora === null
        ? undefined
        : views.map((_, v) => pluginEmbedder(this.backbone, plugin, v, this.threads ? { threads: this.threads } : {}));
    this.loaded.set(id, { info, plugin, ...(adapted ? { adapted } : {}), input, views });
    return info;
  }

  async analyze(request: AnalysisRequest): Promise<AnalysisResult> {
    const chosen = request.pluginIds.map((id) => {
      const l = this.loaded.get(id);
      if (!l) throw new Error(`plugin "${id}" is not loaded`);
      return l;
    });
    request.onProgress({ fraction: 0, stage: 'reading' });
    const { volume } = await readVolume(request.volumePath);
    const imagePath = join(request.outDir, 'image.nii.gz');
    await writeVolume(volume, imagePath);
    // The volume as each plugin's recipe prepares it (HU, MRI normalisation, orientation, spacing),
    // once per distinct recipe. Its record maps every heatmap back onto the uploaded volume's grid.
    const prepared = new Map<string, Processed>();
    const volumeFor = (l: Loaded): Processed => {
      const key = volumeKey(l.input);
      let v = prepared.get(key);
      if (!v) {
        v = prepareCaseVolume(volume, l.input, request.volumePath).volume;
        prepared.set(key, v);
      }
      return v;
    };
    const predictions: AnalysisResult['predictions'] = {};
    const heatmaps: AnalysisResult['heatmaps'] = {};
    const reports: NonNullable<AnalysisResult['reports']> = {};

    // One backbone pass per distinct view among the frozen plugins' views.
    const passes = new Map<string, VolumeEmbedding>();
    const options = heatmapEmbedOptions(this.backbone);
    const embed = async (l: Loaded, input: Processed, v: number): Promise<VolumeEmbedding> => {
      const view = l.views[v]!;
      const adapted = l.adapted?.[v];
      if (adapted) return embedVolume(input, view, adapted, options);
      let pass = passes.get(viewKey(l, view));
      if (!pass) {
        pass = await embedVolume(input, view, this.embedderFor(precisionOf(l)), options);
        passes.set(viewKey(l, view), pass);
        this.backbonePasses++;
      }
      return pass;
    };
    let done = 0;
    for (const l of chosen) {
      if (request.signal.aborted) throw new Error('analysis aborted');
      request.onProgress({
        fraction: 0.1 + (0.8 * done) / chosen.length,
        stage: l.info.frozenBackbone ? 'backbone' : 'plugins',
      });
      const input = volumeFor(l);
      const embeddings: VolumeEmbedding[] = [];
      for (let v = 0; v < l.views.length; v++) embeddings.push(await embed(l, input, v));
      request.onProgress({ fraction: 0.1 + (0.8 * (done + 0.5)) / chosen.length, stage: 'heatmaps' });
      const map = (label: string) =>
        caseHeatmaps({
          volume: input,
          views: l.views,
          backbone: this.backbone,
          plugin: l.plugin,
          label,
          embeddings,
          precision: precisionOf(l),
        });
      const first = await map(l.info.labels[0]!);
      predictions[l.info.id] = first.summary.probabilities;
      heatmaps[l.info.id] = await this.writeHeatmaps(l, first, map, request.outDir);
      reports[l.info.id] = await this.writeReport(l, first, input, request);
      done++;
    }
    request.onProgress({ fraction: 1, stage: 'writing' });
    return { imagePath, predictions, heatmaps, reports };
  }

  /** The same per-case report `anymc3d heatmap --report` writes: probabilities, the first label's montage, provenance. */
  private async writeReport(
    l: Loaded,
    first: CaseHeatmap,
    input: Processed,
    request: AnalysisRequest,
  ): Promise<string> {
    const caseName = request.caseName ?? basename(request.outDir);
    const montage = await caseMontage(first, {
      image: input,
      view: l.views[0]!,
      caption: { caseId: caseName, plugin: l.info.id },
    });
    const path = join(request.outDir, `report-${l.info.id}.html`);
    await writeCaseReport(path, {
      caseId: caseName,
      task: l.info.task,
      ...reportLabels(l.plugin.card, first.summary.probabilities),
      montages: [
        {
          label: first.summary.label,
          png: montage.png,
          caption: `${first.summary.label}: top slices per view, input beside overlay`,
        },
      ],
      provenance: {
        backbone: { name: this.backbone.card.name, weightHash: this.backbone.weightHash },
        plugin: { path: l.info.id, sha256: l.info.hash ?? '' },
        recipe: l.input,
        input: [caseName],
        versions: { core: CORE_VERSION, adapters: ADAPTERS_VERSION, node: process.version },
        created: new Date().toISOString(),
      },
    });
    return path;
  }

  /**
   * ViTs: the CLS→patch attention, the same map for every label, written once; CNNs: a class
   * activation map per label. Values in [0, 1] (caseHeatmaps: clipped at 0, divided by the
   * maximum) as the NIfTI on the input grid that the viewer overlays (16-bit codes with scl_slope,
   * HEATMAP_NIFTI) — core's writer, as `anymc3d heatmap` writes it.
   */
  private async writeHeatmaps(
    l: Loaded,
    first: CaseHeatmap,
    map: (label: string) => Promise<CaseHeatmap>,
    outDir: string,
  ): Promise<Record<string, string>> {
    const write = async (heat: CaseHeatmap, name: string) => {
      const path = join(outDir, `heatmap-${l.info.id}-${name}.nii.gz`);
      await writeVolume(heat.heat, path, HEATMAP_NIFTI);
      return path;
    };
    const out: Record<string, string> = {};
    if (first.summary.method === 'attention') {
      const path = await write(first, 'attention');
      for (const label of l.info.labels) out[label] = path;
      return out;
    }
    for (const [k, label] of l.info.labels.entries())
      out[label] = await write(k === 0 ? first : await map(label), `label${k}`);
    return out;
  }

  async close(): Promise<void> {
    for (const l of this.loaded.values()) for (const a of l.adapted ?? []) await a.release();
    for (const e of this.embedders.values()) await e.release();
  }
}
