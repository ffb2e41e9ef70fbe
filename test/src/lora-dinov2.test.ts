import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFolder } from '@anymc3d/adapters/registry';
import { writeTinyDinov2, writeTinyDinov3 } from '@anymc3d/adapters/testing';
import type { Backbone } from '@anymc3d/core/backbone';
import { DEFAULT_LORA } from '@anymc3d/core/backbone';
import { GraphBuilder, type Tensor, tensor } from '@anymc3d/core/graph';
import type { TaskCard } from '@anymc3d/core/plugin';
import { initPluginWeights, type PluginSpec } from '@anymc3d/core/plugin';
import { checkGradients, relativeL2Error as relError } from '@anymc3d/core/testing';
import { LoraTrainer, trainPlugin, type VolumeCase } from '@anymc3d/core/train';
import { Random } from '@anymc3d/core/util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * LoRA training through the real ViT families (DINOv2 with registers, DINOv3 with RoPE): the
 * encoder makes room for CLS/register tokens with an ONNX Pad in front of the patch tokens, so the
 * patch-embedding LoRA only learns if the differentiator carries gradients back through that Pad.
 */

const IMAGE = 16;
const task: TaskCard = {
  task: 'toy',
  kind: 'multilabel',
  labels: ['a', 'b'],
  views: ['axial'],
  axis: 'axial',
  windows: [[-160, 240]],
  inputSize: [IMAGE, IMAGE],
};
const spec = (dim: number): PluginSpec => ({ dim, labels: task.labels, kind: task.kind, loss: 'focal' });

const rand = new Random(11);
const cases: VolumeCase[] = [3, 5, 2, 4].map((slices, k) => ({
  id: `c${k}`,
  slices,
  pixels: Float32Array.from({ length: slices * 3 * IMAGE * IMAGE }, () => rand.normal()),
  labels: [k % 2, (k >> 1) % 2],
}));

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tinyFolder(family: 'dinov2' | 'dinov3'): Promise<Backbone> {
  const dir = await mkdtemp(join(tmpdir(), `anymc3d-lora-${family}-`));
  dirs.push(dir);
  const options = { imageSize: IMAGE, patchSize: 4, hiddenSize: 32, layers: 2, heads: 4, registers: 2, seed: 3 };
  if (family === 'dinov2') await writeTinyDinov2(dir, options);
  else await writeTinyDinov3(dir, options);
  return loadFolder(dir);
}

function randomTensor(dims: number[], seed: number, scale = 1): Tensor {
  const r = new Random(seed);
  return tensor(
    'float32',
    dims,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => scale * r.normal()),
  );
}

async function trainer(backbone: Backbone, chunk?: number): Promise<LoraTrainer> {
  const t = await LoraTrainer.create(backbone, spec(backbone.card.embedDim), {
    inputSize: task.inputSize,
    lora: DEFAULT_LORA,
    plugin: initPluginWeights(spec(backbone.card.embedDim), 5),
    threads: 1,
    ...(chunk ? { chunk } : {}),
  });
  // LoRA B starts at zero, which zeroes every A gradient: use small random values instead.
  for (const [name, p] of t.params) {
    if (!name.startsWith('lora.')) continue;
    const r = Random.fromString(7, name);
    const data = p.data as Float32Array;
    for (let i = 0; i < data.length; i++) data[i] = 0.05 * r.normal();
  }
  return t;
}

for (const family of ['dinov2', 'dinov3'] as const) {
  describe(`LoRA training through a tiny ${family} folder`, () => {
    it('gives finite, non-zero patch-embedding gradients, equal one-shot and under chunked recompute', async () => {
      const backbone = await tinyFolder(family);
      const whole = await trainer(backbone);
      const chunked = await trainer(backbone, 2);
      const c = cases[1]!; // 5 slices: chunks of 2, 2 and 1
      const a = await whole.caseGradient(c, 1);
      const b = await chunked.caseGradient(c, 1);
      expect(Number.isFinite(a.loss)).toBe(true);
      expect(Math.abs(b.loss - a.loss) / a.loss).toBeLessThan(1e-5);
      const names = [...a.grads.keys()];
      expect(names.some((n) => n.startsWith('lora.patch_embed'))).toBe(true);
      for (const name of names) {
        const ga = a.grads.get(name)!;
        expect(
          ga.every((v) => Number.isFinite(v)),
          `${name} finite`,
        ).toBe(true);
        expect(
          ga.some((v) => v !== 0),
          `${name} non-zero`,
        ).toBe(true);
        expect(relError(b.grads.get(name)!, ga), `chunked ${name}`).toBeLessThan(1e-4);
      }
      await whole.release();
      await chunked.release();
    });

    it('matches finite differences of the backbone with LoRA (the patch-embedding Pad included)', async () => {
      const backbone = await tinyFolder(family);
      const g = new GraphBuilder(`${family}.gradcheck`);
      const pixels = g.input('pixels', 'float32', ['S', 3, IMAGE, IMAGE]);
      const { cls } = backbone.build(g, pixels, { inputSize: task.inputSize, lora: DEFAULT_LORA });
      const r = g.constant(randomTensor([1, backbone.card.embedDim], 5));
      g.output(g.op('ReduceSum', [g.op('Mul', [cls, r])], { keepdims: 0 }), 'loss');
      const graph = g.build();
      const feeds: Record<string, Tensor> = { pixels: randomTensor([2, 3, IMAGE, IMAGE], 9) };
      for (const p of graph.params.values()) {
        if (p.role === 'trainable') feeds[p.name] = randomTensor([...p.value.dims], p.name.length, 0.05);
      }
      const wrt = Object.keys(feeds).filter((k) => k !== 'pixels');
      expect(wrt).toContain('lora.patch_embed.A');
      const res = await checkGradients(graph, 'loss', feeds, wrt, { step: 3e-2 });
      for (const [name, r2] of res) expect(r2.relError, `${name}: ${JSON.stringify(r2)}`).toBeLessThan(1e-3);
    });

    it('trainPlugin lowers the full-batch loss over a few LoRA steps', async () => {
      const backbone = await tinyFolder(family);
      const outDir = await mkdtemp(join(tmpdir(), 'anymc3d-lora-train-'));
      dirs.push(outDir);
      const trained = await trainPlugin({
        source: { backbone, cases, chunk: 2 },
        task,
        outDir,
        // The whole data set in every step, in order, so the step losses are comparable.
        options: { steps: 6, batchSize: cases.length, warmup: 1, lrLora: 5e-3, lrHead: 5e-3, shuffle: false, seed: 1 },
        threads: 1,
      });
      expect(trained.losses).toHaveLength(6);
      expect(trained.losses.every((l) => Number.isFinite(l))).toBe(true);
      // Full-batch steps with a small learning rate: every step lowers the loss, by a quarter at least overall.
      for (let k = 1; k < trained.losses.length; k++) {
        expect(trained.losses[k], `step ${k + 1}`).toBeLessThan(trained.losses[k - 1]!);
      }
      expect(trained.losses.at(-1)!).toBeLessThan(0.75 * trained.losses[0]!);
      expect(trained.card.lora?.targets).toContain('patch_embed');
      const patchB = trained.weights.get('lora.patch_embed.B')!.data as Float32Array;
      expect(patchB.some((v) => v !== 0)).toBe(true);
    });
  });
}
