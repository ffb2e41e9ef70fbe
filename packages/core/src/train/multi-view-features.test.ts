import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../graph/index.js';
import type { TaskCard } from '../plugin/card.js';
import { loadPlugin } from '../plugin/load.js';
import { addViewQueries, FUSION_QUERY, viewQuery } from '../plugin/multi-view.js';
import { HEAD_BIAS, HEAD_WEIGHT, initPluginWeights, type PluginSpec } from '../plugin/plugin-graph.js';
import { Random } from '../util/random.js';
import { type FeatureCase, featureGradient } from './features.js';
import { trainPlugin } from './train-plugin.js';

const dim = 6;
const spec: PluginSpec = { dim, labels: ['a', 'b'], kind: 'multilabel', loss: 'bce' };
const r = new Random(21);
const view = (slices: number) => ({ slices, tokens: Float32Array.from({ length: slices * dim }, () => r.normal()) });
// Different slice counts per view and per case, so batches are padded in every view.
const cases: FeatureCase[] = [
  [3, 2, 4],
  [5, 3, 2],
  [2, 4, 3],
].map(([a, b, c], k) => ({ id: `c${k}`, ...view(a!), moreViews: [view(b!), view(c!)], labels: [k % 2, 1 - (k % 2)] }));

/** The method written out in float64: per-view query pooling, fusion pooling, linear head. */
function reference(c: FeatureCase, w: ReadonlyMap<string, Tensor>): number[] {
  const pool = (tokens: ArrayLike<number>, S: number, q: ArrayLike<number>) => {
    const s = Array.from({ length: S }, (_, i) => {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += tokens[i * dim + j]! * q[j]!;
      return dot / Math.sqrt(dim);
    });
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return Array.from({ length: dim }, (_, j) => e.reduce((acc, ei, i) => acc + (ei / z) * tokens[i * dim + j]!, 0));
  };
  const views = [c, ...c.moreViews!];
  const pooled = views.map((v, k) => pool(v.tokens, v.slices, w.get(viewQuery(k))!.data as Float32Array));
  const fused = pool(pooled.flat(), views.length, w.get(FUSION_QUERY)!.data as Float32Array);
  const W = w.get(HEAD_WEIGHT)!.data as Float32Array;
  const b = w.get(HEAD_BIAS)!.data as Float32Array;
  return spec.labels.map((_, l) => fused.reduce((acc, x, j) => acc + x * W[l * dim + j]!, b[l]!));
}

/** Mean-over-labels BCE with logits, weighted per case. */
function referenceLoss(w: ReadonlyMap<string, Tensor>, weights: readonly number[]): number {
  return cases.reduce((total, c, k) => {
    const z = reference(c, w);
    const bce = z.reduce(
      (acc, zl, l) => acc + Math.max(zl, 0) - c.labels[l]! * zl + Math.log1p(Math.exp(-Math.abs(zl))),
      0,
    );
    return total + (weights[k]! * bce) / z.length;
  }, 0);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('multi-view plugin training on cached tokens', () => {
  it('gives the loss and gradients of the method written out directly, on padded batches', async () => {
    const w = addViewQueries(initPluginWeights(spec, 2), 3, 2);
    // Queries large enough to weigh slices and views unevenly.
    for (const [name, t] of w)
      if (name.endsWith('query')) (t.data as Float32Array).set(Array.from(t.data as Float32Array, () => r.normal()));
    const weights = [0.5, 0.3, 0.2];
    const { session, gradient } = await featureGradient(spec, w, cases, 1, 3);
    const { loss, grads } = await gradient([0, 1, 2], weights);
    await session.release();
    expect(Math.abs(loss - referenceLoss(w, weights))).toBeLessThan(1e-5);
    for (const name of [viewQuery(0), viewQuery(2), FUSION_QUERY, HEAD_WEIGHT]) {
      const p = w.get(name)!.data as Float32Array;
      const g = grads.get(name)!;
      for (const i of [0, p.length - 1]) {
        const orig = p[i]!;
        const h = 1e-2;
        p[i] = orig + h;
        const up = referenceLoss(w, weights);
        p[i] = orig - h;
        const down = referenceLoss(w, weights);
        p[i] = orig;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(g[i]! - numeric), `${name}[${i}]: ${g[i]} vs ${numeric}`).toBeLessThan(2e-4);
      }
    }
  });

  it('trains a 3-view plugin that loadPlugin predicts from per-view tokens as the method does', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'anymc3d-mv-'));
    dirs.push(outDir);
    const task: TaskCard = {
      task: 'toy-mv',
      kind: 'multilabel',
      labels: ['a', 'b'],
      views: ['axial', 'coronal', 'sagittal'],
      axis: 'axial',
      windows: [[-0.5, 0.5]],
      inputSize: [8, 8],
    };
    const backbone = { name: 'toy', weightHash: 'f'.repeat(64) };
    const trained = await trainPlugin({
      source: { features: cases, backbone },
      task,
      outDir,
      options: { steps: 5, batchSize: 2, warmup: 1, lrHead: 1e-2 },
      threads: 1,
    });
    expect([...trained.weights.keys()].sort()).toEqual(
      [FUSION_QUERY, HEAD_BIAS, HEAD_WEIGHT, viewQuery(0), viewQuery(1), viewQuery(2)].sort(),
    );
    const plugin = await loadPlugin(outDir, backbone, { threads: 1 });
    for (const c of cases) {
      const p = await plugin.predictViews([c, ...c.moreViews!]);
      const want = reference(c, plugin.weights).map((z) => 1 / (1 + Math.exp(-z)));
      p.probabilities.forEach((q, l) => {
        expect(Math.abs(q - want[l]!)).toBeLessThan(1e-5);
      });
      expect(p.views!.map((v) => v.sliceWeights.length)).toEqual([c.slices, ...c.moreViews!.map((v) => v.slices)]);
      expect(p.views!.reduce((s, v) => s + v.weight, 0)).toBeCloseTo(1, 5);
    }
    await expect(plugin.predictViews([cases[0]!])).rejects.toThrow(/takes 3 views/);
    await plugin.release();
    // A case missing a view is refused before training.
    await expect(
      trainPlugin({
        source: { features: [{ ...cases[0]!, moreViews: [] }], backbone },
        task,
        outDir: join(outDir, 'x'),
      }),
    ).rejects.toThrow(/has 1 views, the task has 3/);
  });
});
