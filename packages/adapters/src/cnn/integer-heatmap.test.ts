import { caseHeatmaps } from '@anymc3d/core/heatmap';
import { initPluginWeights, inputViews, type PluginCard, pluginInput } from '@anymc3d/core/plugin';
import { cosine, testPluginCard } from '@anymc3d/core/testing';
import { Random } from '@anymc3d/core/util';
import type { Volume } from '@anymc3d/core/volume';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadMobileNet, type MobileNetBackbone } from './mobilenet.js';

/**
 * A class activation map of the shipped uint8 MobileNet as its integer network (`heatmap`,
 * `predict --heatmaps` and the demo at --precision int8): its pooled embedding is the feature
 * map's mean rounded to a code, so the map is drawn within half a code of exact, not refused.
 */
describe('heatmaps of a uint8 MobileNet at precision int8', () => {
  let v1: MobileNetBackbone;
  beforeAll(async () => {
    v1 = await loadMobileNet('mobilenet_v1_224');
  });

  it('draws the map, close to the float network’s, with its own probability', async () => {
    const r = new Random(4);
    const size: [number, number, number] = [40, 36, 6];
    const volume: Volume = {
      size,
      spacing: [1, 1, 2],
      origin: [0, 0, 0],
      direction: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      // Noise with a bright block, so the feature maps vary over the slice.
      data: Float32Array.from({ length: size[0] * size[1] * size[2] }, (_, i) => {
        const [x, y] = [i % size[0], Math.floor(i / size[0]) % size[1]];
        return r.uniform(0, 80) + (x > 20 && y > 18 ? 150 : 0);
      }),
    };
    const labels = ['finding'];
    const weights = initPluginWeights({ dim: 1024, labels, kind: 'multilabel', loss: 'bce' }, 2);
    // A head that weighs channels both ways (the initial one is zero: no map at all).
    for (const t of weights.values()) {
      const data = t.data as Float32Array;
      for (let i = 0; i < data.length; i++) data[i] = r.normal();
    }
    const card: PluginCard = testPluginCard({
      task: 'integer-heatmap',
      labels,
      windows: [[0, 255]],
      inputSize: [64, 64],
      dim: 1024,
      backbone: { name: v1.card.name, weightHash: v1.weightHash },
    });
    const views = inputViews(pluginInput(card), v1.card);
    const args = { volume, views, backbone: v1, plugin: { card, weights, source: 'p' }, threads: 1 };
    const int8 = await caseHeatmaps({ ...args, precision: 'int8' });
    const fp32 = await caseHeatmaps(args);
    expect(int8.summary.method).toBe('cam');
    expect(cosine(int8.heat.data as Float32Array, fp32.heat.data as Float32Array)).toBeGreaterThan(0.95);
    expect(int8.summary.probability).not.toBe(fp32.summary.probability);
  });
});
