import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { type Backbone, FrozenEmbedder } from '@anymc3d/core/backbone';
import { classActivationMaps, normalizeUnit, type SliceMaps, upsampleSliceMaps } from '@anymc3d/core/heatmap';
import { embedVolume, type ViewInput, type VolumeEmbedding } from '@anymc3d/core/pipeline';
import {
  HEAD_WEIGHT,
  inputViews,
  type LoadedPlugin,
  loadPlugin,
  PLUGIN_CARD,
  PLUGIN_WEIGHTS,
  type PluginInput,
  pluginInput,
  prepareVolume,
} from '@anymc3d/core/plugin';
import { InputError, writeFileAtomic } from '@anymc3d/core/util';
import { mapToSource, readVolume, sliceBatches, type Volume, writeVolume } from '@anymc3d/core/volume';
import type { AnalysisRequest, AnalysisResult, AnalyzerOptions, CaseAnalyzer, PluginInfo } from './analyzer.js';
import { encodeNiftiUnitUint8, readNifti } from './nifti.js';

interface Loaded {
  info: PluginInfo;
  plugin: LoadedPlugin;
  /** The plugin's input as recorded in its card: what the volume is normalised by and sliced into. */
  input: PluginInput;
  view: ViewInput;
}

/** Plugins that read the same normalised volume share it. */
const volumeKey = (input: PluginInput) => JSON.stringify(input.normalisation);
/** Plugins that read the same slices of the same normalised volume share a backbone pass. */
const viewKey = (l: Loaded) => JSON.stringify([l.input.normalisation, l.view.axis, l.view.size, l.view.channels]);

/**
 * The real inference engine behind the server: the backbone is loaded once; every frozen-backbone
 * plugin that reads the same view shares one backbone pass per case (a plugin then costs only its
 * pooling and head); LoRA plugins run their own adapted pass.
 */
export class EngineAnalyzer implements CaseAnalyzer {
  private readonly loaded = new Map<string, Loaded>();
  /** Frozen-backbone passes run so far (one per case and distinct view, shared by plugins). */
  backbonePasses = 0;

  private constructor(
    private readonly backbone: Backbone,
    private readonly embedder: FrozenEmbedder,
    private readonly threads: number | undefined,
  ) {}

  static async create(options: AnalyzerOptions & { threads?: number }): Promise<EngineAnalyzer> {
    const backbone = await resolveBackbone(options.backbone);
    const embedder = new FrozenEmbedder(backbone, options.threads ? { threads: options.threads } : {});
    const analyzer = new EngineAnalyzer(backbone, embedder, options.threads);
    for (const dir of options.plugins) await analyzer.loadPlugin(dir);
    return analyzer;
  }

  get plugins(): readonly PluginInfo[] {
    return [...this.loaded.values()].map((l) => l.info);
  }

  async loadPlugin(dir: string): Promise<PluginInfo> {
    const plugin = await loadPlugin(dir, this.backbone, this.threads ? { threads: this.threads } : {});
    const card = plugin.card;
    const input = pluginInput(card, join(dir, PLUGIN_CARD));
    if (input.views.length !== 1) {
      await plugin.release();
      throw new InputError(
        join(dir, PLUGIN_CARD),
        `the server runs single-view plugins; this one reads ${input.views.map((v) => v.name).join(', ')}`,
      );
    }
    const base = card.task.replace(/[^A-Za-z0-9._-]/g, '-') || 'plugin';
    let id = base;
    for (let k = 2; this.loaded.has(id); k++) id = `${base}-${k}`;
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
    this.loaded.set(id, { info, plugin, input, view: inputViews(input, this.backbone.card)[0]! });
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
    const like = await readNifti(new Uint8Array(await readFile(imagePath)), imagePath);
    // The volume as each plugin was trained on it (MRI: z-scored per volume), once per normalisation.
    const prepared = new Map<string, Volume>();
    const volumeFor = (l: Loaded): Volume => {
      const key = volumeKey(l.input);
      let v = prepared.get(key);
      if (!v) {
        v = prepareVolume(l.input, volume);
        prepared.set(key, v);
      }
      return v;
    };
    const predictions: AnalysisResult['predictions'] = {};
    const heatmaps: AnalysisResult['heatmaps'] = {};

    // One backbone pass per distinct view among the frozen plugins.
    const passes = new Map<string, VolumeEmbedding>();
    let done = 0;
    for (const l of chosen) {
      if (request.signal.aborted) throw new Error('analysis aborted');
      request.onProgress({
        fraction: 0.1 + (0.8 * done) / chosen.length,
        stage: l.info.frozenBackbone ? 'backbone' : 'plugins',
      });
      let probabilities: number[];
      const input = volumeFor(l);
      if (l.info.frozenBackbone) {
        const key = viewKey(l);
        let pass = passes.get(key);
        if (!pass) {
          pass = await embedVolume(input, l.view, this.embedder, { patchTokens: true });
          passes.set(key, pass);
          this.backbonePasses++;
        }
        const p = await l.plugin.predictTokens(pass.cls.data as Float32Array, pass.cls.dims[0]!);
        probabilities = p.probabilities;
        heatmaps[l.info.id] = await this.writeHeatmaps(l, pass, p.sliceWeights, input, like, request.outDir);
      } else {
        const batches = sliceBatches(input, { ...l.view, chunk: 1 << 30 });
        const [all] = [...batches];
        const p = await l.plugin.predict(all!.data, batches.slices);
        probabilities = p.probabilities;
        // The adapted attention needs the LoRA backbone graph; until it is wired, no map is shown
        // rather than one from the frozen backbone that the plugin did not see.
        heatmaps[l.info.id] = {};
      }
      predictions[l.info.id] = Object.fromEntries(l.info.labels.map((label, k) => [label, probabilities[k]!]));
      done++;
    }
    request.onProgress({ fraction: 1, stage: 'writing' });
    return { imagePath, predictions, heatmaps };
  }

  /**
   * ViTs: CLS→patch attention (class-agnostic, one map for every label); CNNs: a class activation
   * map per label from the head weights. Each is weighted by the plugin's slice weights, mapped
   * back onto the input grid, and normalised to [0, 1] (1 = most attention) as uint8 NIfTI.
   */
  private async writeHeatmaps(
    l: Loaded,
    pass: VolumeEmbedding,
    sliceWeights: readonly number[],
    volume: Volume,
    like: Awaited<ReturnType<typeof readNifti>>,
    outDir: string,
  ): Promise<Record<string, string>> {
    const S = pass.cls.dims[0]!;
    const out: Record<string, string> = {};
    const write = async (maps: SliceMaps, name: string) => {
      // Mapped straight from the patch grid: the slice stack at grid resolution has its own record,
      // and mapToSource's trilinear sampling does the upsampling on the input grid only.
      const weighted = upsampleSliceMaps(maps, maps.grid, sliceWeights);
      const onSource = mapToSource(weighted, sliceBatches(volume, { ...l.view, size: maps.grid, chunk: 1 }).record);
      const unit = normalizeUnit(onSource.data as Float32Array);
      const path = join(outDir, `heatmap-${l.info.id}-${name}.nii.gz`);
      await writeFileAtomic(
        path,
        encodeNiftiUnitUint8(like, unit, { calMin: 0, calMax: 1, description: `anymc3d ${l.info.task} ${name}` }),
      );
      return path;
    };
    if (pass.attention) {
      const path = await write(
        { values: pass.attention.data as Float32Array, slices: S, grid: pass.grid },
        'attention',
      );
      for (const label of l.info.labels) out[label] = path;
      return out;
    }
    const head = l.plugin.weights.get(HEAD_WEIGHT)!;
    const d = pass.cls.dims[1]!;
    for (const [k, label] of l.info.labels.entries()) {
      const w = (head.data as Float32Array).subarray(k * d, (k + 1) * d);
      const cam = classActivationMaps(pass.patchTokens!.data as Float32Array, S, pass.grid, d, w, sliceWeights);
      out[label] = await write(cam, `label${k}`);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const l of this.loaded.values()) await l.plugin.release();
    await this.embedder.release();
  }
}
