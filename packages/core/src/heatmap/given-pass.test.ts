import { describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { tensor } from '../graph/index.js';
import type { Tensor } from '../graph/tensor.js';
import { embedVolume, type ViewInput } from '../pipeline/embed-volume.js';
import type { PluginCard } from '../plugin/card.js';
import { inputViews, pluginInput } from '../plugin/input.js';
import { initPluginWeights } from '../plugin/plugin-graph.js';
import { testPluginCard } from '../testing/plugin-card.js';
import { randomTinyVitWeights, TinyVit, tinyVitLoraTargets } from '../testing/tiny-vit.js';
import { Random } from '../util/random.js';
import type { Volume } from '../volume/types.js';
import { caseHeatmaps, heatmapEmbedOptions, pluginEmbeddings } from './case-heatmap.js';

// A backbone pass handed to caseHeatmaps (the heatmap server's shared frozen pass, or one adapted
// pass reused for every label) must give the map caseHeatmaps makes when it runs the pass itself.
const spec = { dim: 16, depth: 2, heads: 2, mlp: 32, patch: 4, image: 16 };
const vit = new TinyVit(spec, randomTinyVitWeights(spec, 3));
const targets = tinyVitLoraTargets(spec);
const r = new Random(9);
const noise = (n: number, scale: number) => Float32Array.from({ length: n }, () => r.normal() * scale);

function loraTensors(): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of targets) {
    const k = t.kind === 'conv' ? t.kernel![0] * t.kernel![1] : 1;
    const a = t.kind === 'conv' ? [8, t.inFeatures, t.kernel![0], t.kernel![1]] : [8, t.inFeatures];
    const b = t.kind === 'conv' ? [t.outFeatures, 8, 1, 1] : [t.outFeatures, 8];
    out.set(`lora.${t.name}.A`, tensor('float32', a, noise(8 * t.inFeatures * k, 0.3)));
    out.set(`lora.${t.name}.B`, tensor('float32', b, noise(t.outFeatures * 8, 0.3)));
  }
  return out;
}

const base: Omit<PluginCard, 'lora'> = testPluginCard({
  task: 'given-pass',
  labels: ['x', 'y'],
  windows: [[0, 1]],
  inputSize: [16, 16],
  dim: 16,
  backbone: { name: vit.card.name, weightHash: vit.weightHash },
});
const head = initPluginWeights({ dim: 16, labels: ['x', 'y'], kind: 'multilabel', loss: 'bce' }, 5);
for (const t of head.values()) (t.data as Float32Array).set(noise(t.data.length, 0.5));
const volume: Volume = {
  size: [20, 18, 5],
  spacing: [0.9, 1.1, 3],
  origin: [1, 2, 3],
  direction: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  data: Float32Array.from({ length: 20 * 18 * 5 }, () => r.next()),
};
const view: ViewInput = inputViews(pluginInput(base), vit.card)[0]!;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('caseHeatmaps with a given backbone pass', () => {
  it('LoRA: one adapted pass reused for a label gives the map of a fresh call', async () => {
    const card: PluginCard = { ...base, lora: { rank: 8, alpha: 16, targets: targets.map((t) => t.name) } };
    const args = {
      volume,
      views: [view],
      backbone: vit,
      plugin: { card, weights: new Map([...head, ...loraTensors()]), source: 'p' },
      threads: 1,
    };
    const embeddings = await pluginEmbeddings(args);
    const fresh = await caseHeatmaps({ ...args, label: 'y' });
    const given = await caseHeatmaps({ ...args, label: 'y', embeddings });
    expect(maxAbsDiff(given.heat.data as Float32Array, fresh.heat.data as Float32Array)).toBe(0);
    expect(given.summary).toEqual(fresh.summary);
  });

  it('frozen: a pass of the shared BackboneEmbedder gives the map caseHeatmaps computes itself', async () => {
    const card: PluginCard = { ...base, lora: null };
    const args = { volume, views: [view], backbone: vit, plugin: { card, weights: head, source: 'p' }, threads: 1 };
    const embedder = new BackboneEmbedder(vit, { threads: 1 });
    const shared = await embedVolume(volume, view, embedder, heatmapEmbedOptions(vit));
    await embedder.release();
    const fresh = await caseHeatmaps(args);
    const given = await caseHeatmaps({ ...args, embeddings: [shared] });
    expect(maxAbsDiff(given.heat.data as Float32Array, fresh.heat.data as Float32Array)).toBeLessThan(1e-5);
    expect(given.summary.probability).toBeCloseTo(fresh.summary.probability, 6);
  });

  it('precision int8: the map of an int8 frozen pass, as the int8 tokens of `predict --precision int8` give', async () => {
    const card: PluginCard = { ...base, lora: null };
    const args = { volume, views: [view], backbone: vit, plugin: { card, weights: head, source: 'p' }, threads: 1 };
    const embedder = new BackboneEmbedder(vit, { threads: 1, precision: 'int8' });
    const int8Pass = await embedVolume(volume, view, embedder, heatmapEmbedOptions(vit));
    await embedder.release();
    const int8 = await caseHeatmaps({ ...args, precision: 'int8' });
    const given = await caseHeatmaps({ ...args, embeddings: [int8Pass] });
    expect(maxAbsDiff(int8.heat.data as Float32Array, given.heat.data as Float32Array)).toBeLessThan(1e-5);
    expect(int8.summary.probability).toBeCloseTo(given.summary.probability, 6);
    // Not the fp32 pass under another name: quantised weights move the probability a little.
    const fp32 = await caseHeatmaps(args);
    expect(int8.summary.probability).not.toBe(fp32.summary.probability);
    expect(Math.abs(int8.summary.probability - fp32.summary.probability)).toBeLessThan(0.05);
  });

  it('refuses a pass that does not fit: without attention on a ViT, or with other slices', async () => {
    const card: PluginCard = { ...base, lora: null };
    const args = { volume, views: [view], backbone: vit, plugin: { card, weights: head, source: 'p' }, threads: 1 };
    const [e] = await pluginEmbeddings(args);
    const { attention: _, ...noAttention } = e!;
    await expect(caseHeatmaps({ ...args, embeddings: [noAttention] })).rejects.toThrow(/without attention/);
    const other = { ...volume, size: [20, 18, 4] as [number, number, number] };
    await expect(caseHeatmaps({ ...args, volume: other, embeddings: [e!] })).rejects.toThrow(/5 embedded slices/);
  });
});
