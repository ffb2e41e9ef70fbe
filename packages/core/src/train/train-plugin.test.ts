import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loraParamCount } from '../backbone/lora.js';
import type { TaskCard } from '../plugin/card.js';
import { loadPlugin } from '../plugin/load.js';
import { initPluginWeights, pluginParamCount } from '../plugin/plugin-graph.js';
import { randomTinyVitWeights, TinyVit, tinyVitLoraTargets } from '../testing/tiny-vit.js';
import { InputError } from '../util/errors.js';
import { Random } from '../util/random.js';
import type { VolumeCase } from './backbone-trainer.js';
import type { Progress } from './loop.js';
import { trainPlugin } from './train-plugin.js';

const spec = { dim: 16, depth: 1, heads: 2, mlp: 32, patch: 4, image: 8 };
const vit = new TinyVit(spec, randomTinyVitWeights(spec, 1));
const task: TaskCard = {
  task: 'toy',
  kind: 'multilabel',
  labels: ['a', 'b'],
  views: ['axial'],
  axis: 'axial',
  windows: [[-160, 240]],
  inputSize: [8, 8],
};
const rand = new Random(5);
const cases: VolumeCase[] = [3, 5, 2, 4].map((slices, k) => ({
  id: `c${k}`,
  slices,
  pixels: Float32Array.from({ length: slices * 3 * 64 }, () => rand.normal()),
  labels: [k % 2, (k >> 1) % 2],
}));
const options = { steps: 8, batchSize: 2, accumulate: 1, warmup: 2, lrLora: 1e-2, lrHead: 1e-2, seed: 3 };
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'anymc3d-train-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('trainPlugin', () => {
  it('resumes a killed run to the same final weights as an uninterrupted one, and reports progress', async () => {
    const whole = tmp();
    const events: Progress[] = [];
    const a = await trainPlugin({
      source: { backbone: vit, cases, chunk: 2 },
      task,
      outDir: whole,
      options,
      checkpointEvery: 1,
      threads: 1,
      onProgress: (p) => events.push(p),
    });
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const e of events) {
      expect(Number.isFinite(e.loss) && e.lr > 0 && e.casesPerSecond > 0 && e.etaSeconds >= 0).toBe(true);
    }
    expect(events.at(-1)!.etaSeconds).toBe(0);

    const killed = tmp();
    const first = await trainPlugin({
      source: { backbone: vit, cases, chunk: 2 },
      task,
      outDir: killed,
      options,
      checkpointEvery: 1,
      threads: 1,
      stopAfter: 3,
    });
    expect(first.losses).toHaveLength(3);
    const resumed = await trainPlugin({
      source: { backbone: vit, cases, chunk: 2 },
      task,
      outDir: killed,
      options,
      checkpointEvery: 1,
      threads: 1,
    });
    expect(resumed.resumedFrom).toBe(3);
    expect(resumed.losses).toEqual(a.losses.slice(3));
    for (const [name, t] of a.weights)
      expect(Array.from(resumed.weights.get(name)!.data as Float32Array), name).toEqual(
        Array.from(t.data as Float32Array),
      );

    const card = JSON.parse(readFileSync(join(whole, 'plugin.json'), 'utf8'));
    expect(card).toMatchObject({
      task: 'toy',
      labels: ['a', 'b'],
      views: ['axial'],
      axis: 'axial',
      inputSize: [8, 8],
      thresholds: [0.5, 0.5],
    });
    expect(card.backbone).toEqual({ name: 'tiny_vit', weightHash: vit.weightHash });
    expect(card.parameters.total).toBe(card.parameters.lora + card.parameters.head);
    expect(card.parameters.lora).toBe(loraParamCount(vit.loraTargets(), 8));

    const plugin = await loadPlugin(whole, vit, { threads: 1 });
    const p = await plugin.predict(cases[1]!.pixels, cases[1]!.slices);
    expect(p.probabilities).toHaveLength(2);
    expect(p.sliceWeights).toHaveLength(5);
    expect(p.sliceWeights.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
    await plugin.release();

    const other = new TinyVit(spec, randomTinyVitWeights(spec, 2));
    await expect(loadPlugin(whole, other)).rejects.toThrow(InputError);
    await expect(loadPlugin(whole, other)).rejects.toThrow(/trained on backbone tiny_vit/);
  });

  it('trains on-demand cases (load + contentKey) to the same weights, holding one case at a time', async () => {
    const eager = await trainPlugin({ source: { backbone: vit, cases, chunk: 2 }, task, outDir: tmp(), options });
    // Pixels readable only between a case's load and the next case's load, as a one-case reader keeps them.
    let resident: VolumeCase | undefined;
    const loads: string[] = [];
    const onDemand: VolumeCase[] = cases.map((c) => ({
      id: c.id,
      labels: c.labels,
      contentKey: `file-of-${c.id}`,
      load: async () => {
        loads.push(c.id);
        resident = c;
      },
      get slices() {
        if (resident !== c) throw new Error(`${c.id} read before load`);
        return c.slices;
      },
      get pixels() {
        if (resident !== c) throw new Error(`${c.id} read before load`);
        return c.pixels;
      },
    }));
    const lazy = await trainPlugin({
      source: { backbone: vit, cases: onDemand, chunk: 2 },
      task,
      outDir: tmp(),
      options,
    });
    expect(lazy.losses).toEqual(eager.losses);
    for (const [name, t] of eager.weights)
      expect(Array.from(lazy.weights.get(name)!.data as Float32Array), name).toEqual(
        Array.from(t.data as Float32Array),
      );
    // The content key stands in for the pixels: no case is read just to key the run.
    expect(loads).toHaveLength(options.steps * options.batchSize);
  });

  it('trains the plugin alone on cached tokens (probe baseline)', async () => {
    const features = cases.map((c) => ({
      id: c.id,
      slices: c.slices,
      labels: c.labels,
      tokens: c.pixels.slice(0, c.slices * 16),
    }));
    const out = tmp();
    const r = await trainPlugin({
      source: { features, backbone: { name: 'tiny_vit', weightHash: vit.weightHash } },
      task,
      outDir: out,
      options: { ...options, steps: 30 },
      threads: 1,
    });
    expect(r.card.lora).toBeNull();
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]!);
    const plugin = await loadPlugin(out, { name: 'tiny_vit', weightHash: vit.weightHash });
    expect((await plugin.predictTokens(features[0]!.tokens, 3)).probabilities).toHaveLength(2);
    await plugin.release();
  });

  it("counts the paper's parameters: ViT-L/16 binary ≈ 1.2M, ViT-B/14 with 18 labels ≈ 0.47M", () => {
    const count = (dim: number, depth: number, patch: number, labels: number) => {
      const targets = tinyVitLoraTargets({ dim, depth, patch });
      const head = pluginParamCount(
        initPluginWeights(
          { dim, labels: Array.from({ length: labels }, String), kind: 'multilabel', loss: 'focal' },
          0,
        ),
      );
      return loraParamCount(targets, 8) + head;
    };
    expect(count(1024, 24, 16, 1)).toBe(1_196_033);
    expect(count(768, 12, 14, 18)).toBe(467_826);
  });
});
