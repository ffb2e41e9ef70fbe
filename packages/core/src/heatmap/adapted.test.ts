import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { tensor } from '../graph/index.js';
import type { Tensor } from '../graph/tensor.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import type { PluginCard } from '../plugin/card.js';
import { inputViews, pluginInput } from '../plugin/input.js';
import { loadPlugin } from '../plugin/load.js';
import { initPluginWeights } from '../plugin/plugin-graph.js';
import { savePlugin } from '../plugin/store.js';
import { testPluginCard } from '../testing/plugin-card.js';
import { randomTinyVitWeights, TinyVit, tinyVitLoraTargets } from '../testing/tiny-vit.js';
import { InputError } from '../util/errors.js';
import { Random } from '../util/random.js';
import type { Volume } from '../volume/types.js';
import { sliceBatches } from '../volume/views.js';
import { caseHeatmaps } from './case-heatmap.js';

const spec = { dim: 16, depth: 2, heads: 2, mlp: 32, patch: 4, image: 16 };
const vit = new TinyVit(spec, randomTinyVitWeights(spec, 5));
const targets = tinyVitLoraTargets(spec);
const r = new Random(4);

/** LoRA tensors for every target, B non-zero so the adapted network differs from the frozen one. */
function loraTensors(scaleB: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of targets) {
    const k = t.kind === 'conv' ? (t.kernel?.[0] ?? 1) * (t.kernel?.[1] ?? 1) : 1;
    const aDims = t.kind === 'conv' ? [8, t.inFeatures, t.kernel![0], t.kernel![1]] : [8, t.inFeatures];
    const bDims = t.kind === 'conv' ? [t.outFeatures, 8, 1, 1] : [t.outFeatures, 8];
    out.set(
      `lora.${t.name}.A`,
      tensor(
        'float32',
        aDims,
        Float32Array.from({ length: 8 * t.inFeatures * k }, () => r.normal() * 0.3),
      ),
    );
    out.set(
      `lora.${t.name}.B`,
      tensor(
        'float32',
        bDims,
        Float32Array.from({ length: t.outFeatures * 8 }, () => r.normal() * scaleB),
      ),
    );
  }
  return out;
}

const card: PluginCard = testPluginCard({
  task: 'lora-heat',
  labels: ['x', 'y'],
  windows: [[0, 1]],
  inputSize: [16, 16],
  dim: 16,
  backbone: { name: vit.card.name, weightHash: vit.weightHash },
  lora: { rank: 8, alpha: 16, targets: targets.map((t) => t.name) },
});
const head = initPluginWeights({ dim: 16, labels: ['x', 'y'], kind: 'multilabel', loss: 'bce' }, 2);
for (const t of head.values())
  (t.data as Float32Array).forEach((_, i, a) => {
    a[i] = r.normal() * 0.5;
  });
const volume: Volume = {
  size: [20, 18, 5],
  spacing: [0.9, 1.1, 3],
  origin: [1, 2, 3],
  direction: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  data: Float32Array.from({ length: 20 * 18 * 5 }, () => r.next()),
};
const view: ViewInput = inputViews(pluginInput(card), vit.card)[0]!;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('heatmaps of LoRA plugins', () => {
  it('use the adapted backbone: its probabilities equal the plugin prediction through LoRA', async () => {
    const weights = new Map([...head, ...loraTensors(0.3)]);
    const dir = mkdtempSync(join(tmpdir(), 'anymc3d-lora-heat-'));
    dirs.push(dir);
    await savePlugin(dir, card, weights);
    const { summary } = await caseHeatmaps({
      volume,
      views: [view],
      backbone: vit,
      plugin: { card, weights, source: dir },
      threads: 1,
    });
    expect(summary.method).toBe('attention');
    const batches = sliceBatches(volume, { ...view, chunk: 100 });
    const [batch] = [...batches];
    const plugin = await loadPlugin(dir, vit, { threads: 1 });
    const reference = await plugin.predict(batch!.data, batch!.count);
    await plugin.release();
    for (let l = 0; l < 2; l++)
      expect(summary.probabilities[card.labels[l]!]).toBeCloseTo(reference.probabilities[l]!, 5);
    const top = summary.views[0]!.topSlices[0]!;
    expect(top.weight).toBeCloseTo(Math.max(...reference.sliceWeights), 5);
  });

  it('give the frozen attention when B is zero and a different one otherwise', async () => {
    const pixels = tensor(
      'float32',
      [2, 3, 16, 16],
      Float32Array.from({ length: 2 * 3 * 256 }, () => r.normal()),
    );
    const frozen = await new BackboneEmbedder(vit, { threads: 1 }).embed(pixels);
    const lora = { rank: 8, alpha: 16, targets: targets.map((t) => t.name) };
    const zero = await new BackboneEmbedder(vit, { lora: { ...lora, weights: loraTensors(0) }, threads: 1 }).embed(
      pixels,
    );
    const tuned = await new BackboneEmbedder(vit, { lora: { ...lora, weights: loraTensors(0.3) }, threads: 1 }).embed(
      pixels,
    );
    const a = frozen.attention!.data as Float32Array;
    const z = zero.attention!.data as Float32Array;
    const t = tuned.attention!.data as Float32Array;
    let same = 0;
    let diff = 0;
    for (let i = 0; i < a.length; i++) {
      same = Math.max(same, Math.abs(a[i]! - z[i]!));
      diff = Math.max(diff, Math.abs(a[i]! - t[i]!));
    }
    expect(same).toBeLessThan(1e-6);
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('one embedder class: with LoRA it refuses int8 and a missing tensor, naming the plugin', async () => {
    const lora = { rank: 8, alpha: 16, targets: targets.map((t) => t.name) };
    expect(
      () =>
        new BackboneEmbedder(vit, { lora: { ...lora, weights: loraTensors(0) }, source: 'p.json', precision: 'int8' }),
    ).toThrow(/p\.json: precision int8 .* LoRA plugin needs fp32/);
    const partial = new Map(loraTensors(0.3));
    partial.delete(`lora.${targets[0]!.name}.A`);
    const pixels = tensor('float32', [1, 3, 16, 16], new Float32Array(3 * 256));
    const embedder = new BackboneEmbedder(vit, { lora: { ...lora, weights: partial }, source: 'p.json', threads: 1 });
    await expect(embedder.cls(pixels)).rejects.toThrow(/p\.json: the plugin has no tensor lora\..*\.A/);
  });

  it('refuse a plugin that lacks one of its LoRA tensors', async () => {
    const weights = new Map([...head, ...loraTensors(0.3)]);
    weights.delete(`lora.${targets[1]!.name}.B`);
    await expect(
      caseHeatmaps({
        volume,
        views: [view],
        backbone: vit,
        plugin: { card, weights, source: 'plugin-dir' },
        threads: 1,
      }),
    ).rejects.toThrow(InputError);
  });
});
