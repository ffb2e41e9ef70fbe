import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LORA } from '../backbone/lora.js';
import { type Tensor, tensor } from '../graph/index.js';
import type { PluginSpec } from '../plugin/plugin-graph.js';
import { relativeL2Error as relError } from '../testing/compare.js';
import { TinyVit, type TinyVitSpec, tinyVitWeightShapes } from '../testing/tiny-vit.js';
import { AdamW } from './adamw.js';
import { LoraTrainer, type VolumeCase } from './backbone-trainer.js';
import { DEFAULT_OPTIM, runTraining } from './loop.js';

interface Fixture {
  spec: TinyVitSpec;
  labels: number;
  options: Record<string, number>;
  weights: Record<string, number[]>;
  cases: { pixels: number[]; slices: number; labels: number[] }[];
  init: Record<string, number[]>;
  grads0: { case: number; loss: number; grads: Record<string, number[]> };
  losses: number[];
  final: Record<string, number[]>;
}

const fx = JSON.parse(
  readFileSync(new URL('../../fixtures/train/lora_train.json', import.meta.url), 'utf8'),
) as Fixture;

const spec: PluginSpec = { dim: fx.spec.dim, labels: ['a', 'b'], kind: 'multilabel', loss: 'focal' };
const cases: VolumeCase[] = fx.cases.map((c, k) => ({
  id: `case${k}`,
  pixels: Float32Array.from(c.pixels),
  slices: c.slices,
  labels: c.labels,
}));

async function trainer(chunk?: number): Promise<LoraTrainer> {
  const weights = new Map<string, Tensor>(
    tinyVitWeightShapes(fx.spec).map(([name, dims]) => [
      name,
      tensor('float64', dims, Float64Array.from(fx.weights[name]!)),
    ]),
  );
  const vit = new TinyVit(fx.spec, weights);
  const plugin = new Map<string, Tensor>([
    ['plugin.query', tensor('float32', [spec.dim], Float32Array.from(fx.init['plugin.query']!))],
    ['plugin.head.weight', tensor('float32', [2, spec.dim], Float32Array.from(fx.init['plugin.head.weight']!))],
    ['plugin.head.bias', tensor('float32', [2], Float32Array.from(fx.init['plugin.head.bias']!))],
  ]);
  const t = await LoraTrainer.create(vit, spec, {
    inputSize: [fx.spec.image, fx.spec.image],
    lora: DEFAULT_LORA,
    plugin,
    threads: 1,
    ...(chunk ? { chunk } : {}),
  });
  for (const [name, p] of t.params) (p.data as Float32Array).set(fx.init[name]!);
  return t;
}

describe('LoRA training through a tiny ViT', () => {
  it('gives PyTorch autograd gradients, one-shot and chunked recompute alike', async () => {
    const oneShot = await trainer();
    const chunked = await trainer(2);
    const c = cases[fx.grads0.case]!;
    const a = await oneShot.caseGradient(c, 1);
    const b = await chunked.caseGradient(c, 1);
    expect(Math.abs(a.loss - fx.grads0.loss) / fx.grads0.loss).toBeLessThan(1e-5);
    expect(Math.abs(b.loss - a.loss) / a.loss).toBeLessThan(1e-6);
    for (const [name, want] of Object.entries(fx.grads0.grads)) {
      expect(relError(a.grads.get(name)!, want), `one-shot ${name}`).toBeLessThan(1e-4);
      expect(relError(b.grads.get(name)!, a.grads.get(name)!), `chunked ${name}`).toBeLessThan(1e-5);
    }
    await oneShot.release();
    await chunked.release();
  });

  it('follows PyTorch for 20 AdamW steps with LoRA and head parameter groups', async () => {
    const t = await trainer(2);
    const losses = await runTraining({
      state: { step: 0, params: t.params, optimizer: new AdamW() },
      caseCount: cases.length,
      options: { ...DEFAULT_OPTIM, ...fx.options, shuffle: false },
      groups: t.groups,
      gradient: t.gradient(cases),
    });
    await t.release();
    losses.forEach((l, k) => {
      expect(Math.abs(l - fx.losses[k]!) / fx.losses[k]!, `step ${k}`).toBeLessThan(1e-4);
    });
    for (const [name, want] of Object.entries(fx.final)) {
      const got = t.params.get(name)!.data as Float32Array;
      expect(Math.max(...want.map((w, i) => Math.abs(w - got[i]!))), name).toBeLessThan(1e-3);
      expect(Math.max(...want.map((w, i) => Math.abs(w - fx.init[name]![i]!))), `${name} moved`).toBeGreaterThan(1e-2);
    }
  });
});
