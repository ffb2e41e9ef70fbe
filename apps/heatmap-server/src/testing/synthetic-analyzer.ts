import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reportLabels, writeCaseReport } from '@anymc3d/core/heatmap';
import { InputError } from '@anymc3d/core/util';
import { readVolume, type Volume, writeVolume } from '@anymc3d/core/volume';
import type { AnalysisRequest, AnalysisResult, CaseAnalyzer, PluginInfo } from '../analyzer.js';

/**
 * A TEST DOUBLE of the inference engine, for the server's tests, the browser test and the load
 * benchmark: no model, no learning. It reads NIfTI uploads only, and for each plugin label
 * writes a Gaussian blob at a place derived from the label's name, weighted by the image's
 * own (windowed) intensity; the "probability" is that blob's mean intensity. Deterministic, so
 * tests can check geometry and numbers; meaningless as a prediction.
 */
export class SyntheticAnalyzer implements CaseAnalyzer {
  private readonly loaded: PluginInfo[];
  /** Backbone passes run so far: one per case for all frozen plugins, one per LoRA plugin. */
  backbonePasses = 0;

  constructor(
    readonly backbone: { name: string; hash: string },
    plugins: PluginInfo[],
    private readonly hooks: { beforeAnalyze?: (request: AnalysisRequest) => Promise<void> } = {},
  ) {
    this.loaded = [...plugins];
  }

  get plugins(): readonly PluginInfo[] {
    return this.loaded;
  }

  async loadPlugin(dir: string): Promise<PluginInfo> {
    const path = join(dir, 'plugin.json');
    const text = await readFile(path, 'utf8').catch(() => {
      throw new InputError(dir, 'has no plugin.json');
    });
    const card = JSON.parse(text) as PluginInfo;
    if (card.backbone?.hash !== this.backbone.hash)
      throw new InputError(
        path,
        `plugin was trained on backbone hash ${card.backbone?.hash}, the server runs ${this.backbone.hash}`,
      );
    const at = this.loaded.findIndex((p) => p.id === card.id);
    if (at >= 0) this.loaded[at] = card;
    else this.loaded.push(card);
    return card;
  }

  async analyze(request: AnalysisRequest): Promise<AnalysisResult> {
    await this.hooks.beforeAnalyze?.(request);
    request.onProgress({ fraction: 0.05, stage: 'reading' });
    if (request.format !== 'nifti' && request.format !== 'nifti-gz')
      throw new InputError(request.volumePath, `the synthetic analyzer reads NIfTI only, not ${request.format}`);
    const { volume: image } = await readVolume(request.volumePath);
    const plugins = request.pluginIds.map((id) => {
      const p = this.loaded.find((x) => x.id === id);
      if (!p) throw new InputError(id, 'is not a loaded plugin');
      return p;
    });
    this.backbonePasses +=
      (plugins.some((p) => p.frozenBackbone) ? 1 : 0) + plugins.filter((p) => !p.frozenBackbone).length;
    request.onProgress({ fraction: 0.3, stage: 'backbone' });
    const imagePath = join(request.outDir, 'image.nii.gz');
    await writeVolume(image, imagePath);
    const weight = normalised(image);
    const predictions: AnalysisResult['predictions'] = {};
    const heatmaps: AnalysisResult['heatmaps'] = {};
    const reports: NonNullable<AnalysisResult['reports']> = {};
    let done = 0;
    const total = plugins.reduce((n, p) => n + p.labels.length, 0);
    for (const [pi, plugin] of plugins.entries()) {
      predictions[plugin.id] = {};
      heatmaps[plugin.id] = {};
      for (const [li, label] of plugin.labels.entries()) {
        const heat = blob(image, `${plugin.id}/${label}`, weight);
        const path = join(request.outDir, 'heatmaps', `${pi}-${li}.nii.gz`);
        await writeVolume({ ...image, data: heat.values }, path);
        (predictions[plugin.id] as Record<string, number>)[label] = heat.score;
        (heatmaps[plugin.id] as Record<string, string>)[label] = path;
        done++;
        request.onProgress({ fraction: 0.3 + (0.7 * done) / total, stage: 'heatmaps' });
      }
      // The report contract with the synthetic numbers (no montage: the double draws none).
      reports[plugin.id] = await writeCaseReport(join(request.outDir, `report-${plugin.id}.html`), {
        caseId: request.caseName ?? 'case',
        task: plugin.task,
        ...reportLabels(
          { labels: plugin.labels, thresholds: plugin.thresholds ?? [], kind: 'multilabel' },
          predictions[plugin.id]!,
        ),
        montages: [],
        provenance: {
          backbone: { name: this.backbone.name, weightHash: this.backbone.hash },
          plugin: { path: plugin.id, sha256: plugin.hash ?? '' },
          recipe: null,
          input: [request.caseName ?? 'case'],
          versions: { analyzer: 'synthetic test double' },
          created: new Date(0).toISOString(),
        },
      });
    }
    return { imagePath, predictions, heatmaps, reports };
  }
}

/** Image intensity mapped to [0, 1] between its minimum and maximum. */
function normalised(image: Volume): Float32Array {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < image.data.length; i++) {
    const v = Number(image.data[i]);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(image.data.length);
  const s = hi > lo ? 1 / (hi - lo) : 0;
  for (let i = 0; i < out.length; i++) out[i] = (Number(image.data[i]) - lo) * s;
  return out;
}

/** A Gaussian (σ = a sixth of each side) at a centre hashed from `key`, times the weight. */
function blob(image: Volume, key: string, weight: Float32Array): { values: Float32Array; score: number } {
  let h = 2166136261;
  for (const ch of key) h = Math.imul(h ^ (ch.codePointAt(0) as number), 16777619) >>> 0;
  const [nx, ny, nz] = image.size;
  const centre = [nx, ny, nz].map((n, d) => n * (0.3 + 0.4 * (((h >>> (8 * d)) & 0xff) / 255)));
  const sigma = [nx, ny, nz].map((n) => Math.max(0.5, n / 6));
  const values = new Float32Array(nx * ny * nz);
  let sum = 0;
  let wsum = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const idx = i + nx * (j + ny * k);
        const g = Math.exp(
          -0.5 *
            (((i - (centre[0] as number)) / (sigma[0] as number)) ** 2 +
              ((j - (centre[1] as number)) / (sigma[1] as number)) ** 2 +
              ((k - (centre[2] as number)) / (sigma[2] as number)) ** 2),
        );
        const w = weight[idx] as number;
        values[idx] = g * (0.25 + 0.75 * w);
        sum += g * w;
        wsum += g;
      }
  return { values, score: wsum > 0 ? sum / wsum : 0 };
}
