import { DEFAULT_LORA } from '@anymc3d/core/backbone';
import { initPluginWeights, type PluginSpec } from '@anymc3d/core/plugin';
import { LoraTrainer } from '@anymc3d/core/train';
import { Random } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { resolveBackbone } from '../registry/index.js';

describe('LoRA training through MobileNet v1', () => {
  it('reaches every pointwise conv: the gradient passes the depthwise convs, ReLU6 and the global pool', async () => {
    const backbone = await resolveBackbone('mobilenet_v1_224');
    const spec: PluginSpec = { dim: backbone.card.embedDim, labels: ['finding'], kind: 'multilabel', loss: 'bce' };
    const trainer = await LoraTrainer.create(backbone, spec, {
      inputSize: [32, 32],
      lora: { ...DEFAULT_LORA, seed: 0 },
      plugin: initPluginWeights(spec, 0),
      threads: 1,
    });
    try {
      const rand = new Random(3);
      const pixels = Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => rand.normal());
      const { loss, grads } = await trainer.caseGradient({ id: 'c', slices: 2, pixels, labels: [1] }, 1);
      expect(Number.isFinite(loss)).toBe(true);
      // LoRA's B starts at zero, so its gradient is the one that must be non-zero on every target.
      const bGrads = [...grads].filter(([name]) => name.startsWith('lora.') && name.endsWith('.B'));
      expect(bGrads).toHaveLength(backbone.loraTargets().length);
      for (const [name, g] of bGrads) expect(Math.hypot(...g), name).toBeGreaterThan(0);
    } finally {
      await trainer.release();
    }
  }, 60_000);
});
