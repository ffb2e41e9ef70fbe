import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, OnnxSession, tensor, toOnnx } from '../graph/index.js';
import type { PluginCard } from '../plugin/card.js';
import { loadPlugin } from '../plugin/load.js';
import { addViewQueries, multiViewHead } from '../plugin/multi-view.js';
import { initPluginWeights } from '../plugin/plugin-graph.js';
import { savePlugin } from '../plugin/store.js';
import { testPluginCard } from '../testing/plugin-card.js';
import { Random } from '../util/random.js';
import { pluginPass } from './plugin-math.js';

const r = new Random(12);
const dim = 6;
const labels = ['a', 'b', 'c'];
const card = (views: string[], kind: 'multilabel' | 'multiclass'): PluginCard =>
  testPluginCard({
    task: 't',
    kind,
    loss: kind === 'multiclass' ? 'ce' : 'bce',
    labels,
    views,
    windows: [],
    inputSize: [8, 8],
    dim,
    backbone: { name: 'b', weightHash: 'h' },
  });
const randomise = (w: Map<string, { data: unknown }>) => {
  for (const t of w.values())
    (t.data as Float32Array).forEach((_, i, a) => {
      a[i] = r.normal();
    });
  return w;
};
const tokens = (S: number) => Float32Array.from({ length: S * dim }, () => r.normal());
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('pluginPass (the head in plain arithmetic)', () => {
  it('equals the exported single-view head: probabilities and slice weights', async () => {
    for (const kind of ['multilabel', 'multiclass'] as const) {
      const c = card(['axial'], kind);
      const weights = randomise(initPluginWeights({ dim, labels, kind, loss: c.loss }, 1)) as ReturnType<
        typeof initPluginWeights
      >;
      const dir = mkdtempSync(join(tmpdir(), 'anymc3d-pass-'));
      dirs.push(dir);
      await savePlugin(dir, c, weights);
      const plugin = await loadPlugin(dir, c.backbone, { threads: 1 });
      const t = tokens(5);
      const ref = await plugin.predictTokens(t, 5);
      await plugin.release();
      const pass = pluginPass(c, weights, [{ tokens: t, slices: 5 }], dir);
      expect(pass.viewWeights).toEqual([1]);
      for (const [i, p] of pass.probabilities.entries()) expect(p).toBeCloseTo(ref.probabilities[i]!, 5);
      for (const [s, a] of pass.sliceWeights[0]!.entries()) expect(a).toBeCloseTo(ref.sliceWeights[s]!, 5);
    }
  });

  it('equals the multi-view head: per-view queries, fusion weights and logits', async () => {
    const c = card(['axial', 'coronal'], 'multilabel');
    const weights = randomise(
      addViewQueries(initPluginWeights({ dim, labels, kind: 'multilabel', loss: 'bce' }, 2), 2, 3),
    ) as ReturnType<typeof initPluginWeights>;
    const g = new GraphBuilder('mv');
    const v0 = g.input('v0', 'float32', [1, 4, dim]);
    const v1 = g.input('v1', 'float32', [1, 7, dim]);
    const { logits, viewWeights } = multiViewHead(g, [v0, v1], weights);
    g.output(g.op('Sigmoid', [logits]), 'p');
    g.output(viewWeights, 'w');
    const session = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
    const t0 = tokens(4);
    const t1 = tokens(7);
    const feeds: Record<string, ReturnType<typeof tensor>> = {
      v0: tensor('float32', [1, 4, dim], t0),
      v1: tensor('float32', [1, 7, dim], t1),
    };
    for (const [k, v] of weights) feeds[k] = v;
    const out = await session.run(feeds, ['p', 'w']);
    await session.release();
    const pass = pluginPass(
      c,
      weights,
      [
        { tokens: t0, slices: 4 },
        { tokens: t1, slices: 7 },
      ],
      'mv',
    );
    for (const [i, p] of pass.probabilities.entries()) expect(p).toBeCloseTo((out.p!.data as Float32Array)[i]!, 5);
    for (const [i, w] of pass.viewWeights.entries()) expect(w).toBeCloseTo((out.w!.data as Float32Array)[i]!, 5);
    expect(pass.sliceWeights.map((a) => a.length)).toEqual([4, 7]);
  });
});
