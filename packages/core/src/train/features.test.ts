import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tensor } from '../graph/index.js';
import type { PluginSpec } from '../plugin/plugin-graph.js';
import { AdamW } from './adamw.js';
import { type FeatureCase, featureGradient } from './features.js';
import { DEFAULT_OPTIM, runTraining } from './loop.js';

interface Fixture {
  dim: number;
  labels: number;
  options: {
    steps: number;
    batchSize: number;
    accumulate: number;
    warmup: number;
    lrHead: number;
    wdHead: number;
    clip: number;
  };
  cases: { tokens: number[]; slices: number; labels: number[] }[];
  init: Record<string, number[]>;
  losses: number[];
  final: Record<string, number[]>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/train/plugin_train.json', import.meta.url), 'utf8'),
) as Fixture;

describe('plugin-only training on cached tokens', () => {
  it('follows PyTorch autograd + AdamW for 20 steps (padded batches, accumulation, warm-up, clipping)', async () => {
    const spec: PluginSpec = {
      dim: fixture.dim,
      labels: Array.from({ length: fixture.labels }, (_, k) => `l${k}`),
      kind: 'multilabel',
      loss: 'focal',
    };
    const dims: Record<string, number[]> = {
      'plugin.query': [fixture.dim],
      'plugin.head.weight': [fixture.labels, fixture.dim],
      'plugin.head.bias': [fixture.labels],
    };
    const params = new Map(
      Object.entries(fixture.init).map(([name, v]) => [name, tensor('float32', dims[name]!, Float32Array.from(v))]),
    );
    const cases: FeatureCase[] = fixture.cases.map((c, k) => ({
      id: `c${k}`,
      tokens: Float32Array.from(c.tokens),
      slices: c.slices,
      labels: c.labels,
    }));
    const { session, gradient } = await featureGradient(spec, params, cases);
    const options = { ...DEFAULT_OPTIM, ...fixture.options, shuffle: false };
    const losses = await runTraining({
      state: { step: 0, params, optimizer: new AdamW() },
      caseCount: cases.length,
      options,
      groups: new Map(),
      gradient,
    });
    await session.release();
    expect(losses).toHaveLength(20);
    losses.forEach((l, k) => {
      expect(Math.abs(l - fixture.losses[k]!) / Math.abs(fixture.losses[k]!), `step ${k}`).toBeLessThan(1e-4);
    });
    for (const [name, want] of Object.entries(fixture.final)) {
      const got = params.get(name)!.data as Float32Array;
      const err = Math.max(...want.map((w, i) => Math.abs(w - got[i]!)));
      expect(err, name).toBeLessThan(1e-3);
      // The weights moved: the comparison is not of two untouched initialisations.
      expect(Math.max(...want.map((w, i) => Math.abs(w - fixture.init[name]![i]!)))).toBeGreaterThan(1e-2);
    }
  });
});
