import { describe, expect, it } from 'vitest';
import { DEFAULT_LORA } from '../backbone/lora.js';
import { initPluginWeights, type PluginSpec } from '../plugin/plugin-graph.js';
import { randomTinyVitWeights, TinyVit } from '../testing/tiny-vit.js';
import { Random } from '../util/random.js';
import { LoraTrainer, type VolumeCase } from './backbone-trainer.js';

const spec = { dim: 16, depth: 1, heads: 2, mlp: 32, patch: 4, image: 8 };
const vit = new TinyVit(spec, randomTinyVitWeights(spec, 4));
const plugin: PluginSpec = { dim: 16, labels: ['a', 'b', 'c'], kind: 'multilabel', loss: 'bce' };
const r = new Random(9);
const view = (slices: number) => ({ slices, pixels: Float32Array.from({ length: slices * 192 }, () => r.normal()) });
const c: VolumeCase = {
  id: 'mv',
  ...view(3),
  labels: [1, 0, 1],
  moreViews: [view(4)],
  segMask: Float32Array.from({ length: 3 * 4 }, () => r.next()),
};

describe('multi-view plugin with the auxiliary seg decoder', () => {
  it('gives finite-difference gradients for per-view LoRA, view and fusion queries and the decoder', async () => {
    const t = await LoraTrainer.create(vit, plugin, {
      inputSize: [8, 8],
      lora: DEFAULT_LORA,
      plugin: initPluginWeights(plugin, 1),
      views: 2,
      seg: { hidden: 4, lambda: 0.5 },
      chunk: 2,
      threads: 1,
    });
    expect([...t.params.keys()]).toEqual(
      expect.arrayContaining([
        'view0.lora.blocks.0.attn.qkv.B',
        'view1.lora.blocks.0.attn.qkv.B',
        'plugin.view1.query',
        'plugin.fusion.query',
        'plugin.seg.conv1.weight',
      ]),
    );
    // Non-zero B so every LoRA tensor has a gradient; queries large enough to weigh slices unevenly.
    for (const [name, p] of t.params)
      if (name.endsWith('.B') || name.endsWith('query'))
        (p.data as Float32Array).forEach((_, i, a) => {
          a[i] = 0.2 * r.normal();
        });
    const base = await t.caseGradient(c, 1);
    const checks = [
      'view0.lora.blocks.0.attn.qkv.A',
      'view1.lora.blocks.0.attn.qkv.B',
      'plugin.view0.query',
      'plugin.fusion.query',
      'plugin.seg.conv1.weight',
      'plugin.head.weight',
    ];
    for (const name of checks) {
      const p = t.params.get(name)!.data as Float32Array;
      const dir = Float32Array.from(p, () => r.normal());
      const norm = Math.hypot(...dir);
      const g = base.grads.get(name)!;
      let analytic = 0;
      for (let i = 0; i < p.length; i++) analytic += (g[i]! * dir[i]!) / norm;
      const orig = Float32Array.from(p);
      const lossAt = async (h: number) => {
        for (let i = 0; i < p.length; i++) p[i] = orig[i]! + (h * dir[i]!) / norm;
        return (await t.caseGradient(c, 1)).loss;
      };
      // float32 end to end: derivatives of 2e-4 sit at the finite-difference noise floor (~1e-3
      // relative); the ReLU in the decoder needs a step small enough not to cross its kinks.
      const h = name.includes('seg') ? 3e-3 : 0.1;
      const numeric =
        (8 * ((await lossAt(h)) - (await lossAt(-h))) - ((await lossAt(2 * h)) - (await lossAt(-2 * h)))) / (12 * h);
      p.set(orig);
      expect(
        Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric)),
        `${name}: ${analytic} vs ${numeric}`,
      ).toBeLessThan(3e-3);
    }
    await t.release();
  });
});
