import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import { caseHeatmaps } from '@anymc3d/core/heatmap';
import { embedVolume } from '@anymc3d/core/pipeline';
import { inputViews, loadPlugin, pluginInput, prepareVolume, readPlugin, savePlugin } from '@anymc3d/core/plugin';
import { pluginTaskOf } from '@anymc3d/core/task';
import { trainPlugin } from '@anymc3d/core/train';
import { readVolume } from '@anymc3d/core/volume';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from './analyzer.js';
import { EngineAnalyzer } from './engine-analyzer.js';
import { analyzeVolume, writeEngineCase } from './testing/engine-case.js';
import { servedVolume } from './testing/served-volume.js';

// The demo's kind of plugin: axial, coronal and sagittal views of ONE volume, each pooled by its own
// query, then fused. The server receives one volume per case, exactly what such a plugin reads.
const AXES = ['axial', 'coronal', 'sagittal'];
// The served map is caseHeatmaps' float32 map as core's one NIfTI writer stores a heatmap: 16-bit
// codes with scl_slope 1/65535, so read back it is within half a code of the float map.
const SAME = 0.5 / 65535 + 1e-9;

let root: string;
let backboneDir: string;
let volumePath: string;

/** A multi-view plugin trained for two steps on made-up tokens (what `anymc3d train` writes). */
async function trainViews(task: string, seed: number, views: { name: string; axis: string }[]): Promise<string> {
  const backbone = await resolveBackbone(backboneDir);
  const dim = backbone.card.embedDim;
  const tokens = (k: number, v: number) =>
    Float32Array.from({ length: 3 * dim }, (_, i) => Math.sin(i * (k + v + 1) + seed));
  const outDir = join(root, task);
  await trainPlugin({
    source: {
      features: [0, 1, 2, 3].map((k) => ({
        id: `c${k}`,
        slices: 3,
        tokens: tokens(k, 0),
        moreViews: views.slice(1).map((_, v) => ({ slices: 3, tokens: tokens(k, v + 1) })),
        labels: [k % 2],
      })),
      backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
    },
    task: pluginTaskOf(
      {
        id: task,
        description: 'generated',
        kind: 'binary',
        labels: ['blob'],
        views: views as { name: string; axis: 'axial' | 'coronal' | 'sagittal' }[],
        windows: [[0, 256]],
        inputSize: { height: 16, width: 16, slices: 6 },
        metric: 'auroc',
        data: { source: 'generated', licence: 'CC0-1.0' },
      },
      [16, 16],
    ),
    outDir,
    options: { steps: 2, batchSize: 2, warmup: 0, seed },
    threads: 1,
  });
  return outDir;
}

const threeViews = (task: string, seed: number) =>
  trainViews(
    task,
    seed,
    AXES.map((a) => ({ name: a, axis: a })),
  );

async function analyze(analyzer: EngineAnalyzer, pluginIds: string[]): Promise<AnalysisResult> {
  return analyzeVolume(analyzer, volumePath, pluginIds, await mkdtemp(join(root, 'out-')));
}

/** What `anymc3d predict` computes: each view's frozen pass, the plugin's own head over all of them. */
async function predicted(pluginDir: string): Promise<number> {
  const backbone = await resolveBackbone(backboneDir);
  const plugin = await loadPlugin(pluginDir, backbone, { threads: 1 });
  const embedder = new BackboneEmbedder(backbone, { threads: 1 });
  const input = pluginInput(plugin.card);
  const volume = prepareVolume(input, (await readVolume(volumePath)).volume);
  const tokens = [];
  for (const view of inputViews(input, backbone.card)) {
    const pass = await embedVolume(volume, view, embedder);
    tokens.push({ tokens: pass.cls.data as Float32Array, slices: pass.cls.dims[0]! });
  }
  const p = (await plugin.predictViews(tokens)).probabilities[0]!;
  await plugin.release();
  await embedder.release();
  return p;
}

/** What `anymc3d heatmap --plugin DIR` computes (its own pass, adapted per view for a LoRA plugin). */
async function cliHeatmap(pluginDir: string) {
  const backbone = await resolveBackbone(backboneDir);
  const plugin = await readPlugin(pluginDir, { name: backbone.card.name, weightHash: backbone.weightHash });
  const input = pluginInput(plugin.card);
  return caseHeatmaps({
    volume: prepareVolume(input, (await readVolume(volumePath)).volume),
    views: inputViews(input, backbone.card),
    backbone,
    plugin: { ...plugin, source: pluginDir },
    threads: 1,
  });
}

async function expectServedMap(result: AnalysisResult, id: string, pluginDir: string): Promise<void> {
  const image = await servedVolume(result.imagePath);
  const path = result.heatmaps[id]!.blob!;
  const served = await servedVolume(path);
  expect(served.size).toEqual(image.size);
  for (const [k, v] of served.affine.entries()) expect(v).toBeCloseTo(image.affine[k]!, 6);
  const reference = await cliHeatmap(pluginDir);
  expect(reference.summary.views.map((v) => v.axis)).toEqual(AXES);
  expect(result.predictions[id]!.blob).toBeCloseTo(reference.summary.probability, 5);
  const expected = reference.heat.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(served.data[i]! - expected[i]!));
  expect(worst, `${id}: largest voxel difference from caseHeatmaps`).toBeLessThanOrEqual(SAME);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'engine-views-'));
  backboneDir = join(root, 'backbone');
  await writeTinyDinov2(backboneDir);
  volumePath = join(root, 'case.nii.gz');
  // Unequal sides, so each axis has its own slice count and a view on the wrong axis could not pass.
  await writeEngineCase(volumePath);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('EngineAnalyzer serves plugins whose views are views of one volume', () => {
  it("a frozen axial/coronal/sagittal plugin: predict's probability and caseHeatmaps' map on the input grid", async () => {
    const dir = await threeViews('three-views', 1);
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [dir], threads: 1 });
    try {
      const result = await analyze(analyzer, ['three-views']);
      expect(analyzer.backbonePasses).toBe(3);
      expect(result.predictions['three-views']!.blob).toBeCloseTo(await predicted(dir), 5);
      await expectServedMap(result, 'three-views', dir);
    } finally {
      await analyzer.close();
    }
  });

  it('two frozen 3-view plugins share the backbone pass of each view: 3 passes, not 6', async () => {
    const a = await threeViews('views-a', 2);
    const b = await threeViews('views-b', 3);
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [a, b], threads: 1 });
    try {
      const result = await analyze(analyzer, ['views-a', 'views-b']);
      expect(analyzer.backbonePasses).toBe(3);
      expect(result.predictions['views-a']!.blob).toBeCloseTo(await predicted(a), 5);
      expect(result.predictions['views-b']!.blob).toBeCloseTo(await predicted(b), 5);
    } finally {
      await analyzer.close();
    }
  });

  it('a LoRA 3-view plugin runs each view through its own adapted backbone', async () => {
    const dir = await threeViews('lora-views', 4);
    const backbone = await resolveBackbone(backboneDir);
    const { card, weights } = await readPlugin(dir, { name: backbone.card.name, weightHash: backbone.weightHash });
    const targets = backbone.loraTargets().filter((t) => t.kind !== 'conv');
    let seed = 7;
    const noise = (n: number) => Float32Array.from({ length: n }, () => Math.sin(seed++ * 12.9898) * 0.2);
    const withLora = new Map(weights);
    // A different LoRA per view: a server that ran view 0's adapter for every view would differ.
    for (let v = 0; v < AXES.length; v++)
      for (const t of targets) {
        const a = { dtype: 'float32' as const, dims: [8, t.inFeatures], data: noise(8 * t.inFeatures) };
        const b = { dtype: 'float32' as const, dims: [t.outFeatures, 8], data: noise(t.outFeatures * 8) };
        withLora.set(`view${v}.lora.${t.name}.A`, a);
        withLora.set(`view${v}.lora.${t.name}.B`, b);
      }
    await savePlugin(dir, { ...card, lora: { rank: 8, alpha: 16, targets: targets.map((t) => t.name) } }, withLora);
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [dir], threads: 1 });
    try {
      expect(analyzer.plugins[0]!.frozenBackbone).toBe(false);
      const result = await analyze(analyzer, ['lora-views']);
      expect(analyzer.backbonePasses).toBe(0);
      await expectServedMap(result, 'lora-views', dir);
    } finally {
      await analyzer.close();
    }
  });

  it('refuses at load a multi-view plugin whose views read other images (t1, t2)', async () => {
    const dir = await trainViews('t1-t2', 5, [
      { name: 't1', axis: 'axial' },
      { name: 't2', axis: 'coronal' },
    ]);
    const load = EngineAnalyzer.create({ backbone: backboneDir, plugins: [dir], threads: 1 });
    await expect(load).rejects.toThrow(/plugin\.json: .*read other images \(t1, t2\)/);
    await expect(load).rejects.toMatchObject({ name: 'InputError' });
  });
});
