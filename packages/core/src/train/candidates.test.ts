import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskCard } from '../plugin/card.js';
import { readPlugin } from '../plugin/store.js';
import { Random } from '../util/random.js';
import { trainCandidates } from './candidates.js';
import type { FeatureCase } from './features.js';
import { trainPlugin } from './train-plugin.js';

const task: TaskCard = {
  task: 'toy',
  kind: 'multilabel',
  labels: ['a'],
  views: ['axial'],
  axis: 'axial',
  windows: [[-160, 240]],
  inputSize: [8, 8],
};
const rand = new Random(7);
const features: FeatureCase[] = [3, 2, 4, 3, 2, 5].map((slices, k) => ({
  id: `c${k}`,
  slices,
  tokens: Float32Array.from({ length: slices * 8 }, () => rand.normal() + (k % 2)),
  labels: [k % 2],
}));
const backbone = { name: 'toy', weightHash: 'h'.repeat(64) };
const train = { source: { features, backbone }, task, options: { batchSize: 2, warmup: 1, seed: 1 }, threads: 1 };
const roots: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'anymc3d-candidates-'));
  roots.push(d);
  return d;
};
afterAll(() => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
});

const weightsAt = async (dir: string) => (await readPlugin(dir, backbone)).weights;
const run = (
  root: string,
  score = async (_dir: string, step: number) => ({ auroc: step === 6 ? 0.9 : 0.7, val: step }),
) =>
  trainCandidates({
    train,
    steps: [6, 3],
    trainDir: join(root, 'train'),
    candidateDir: (step) => join(root, `step-${step}`),
    score,
  });

describe('trainCandidates', () => {
  it('saves and scores a plugin at every candidate step of one schedule and keeps the best', async () => {
    const root = tmp();
    const r = await run(root);
    expect(r.candidates.map((c) => [c.step, c.valAuroc, c.val])).toEqual([
      [3, 0.7, 3],
      [6, 0.9, 6],
    ]);
    expect(r.best.step).toBe(6);
    for (const step of [3, 6]) {
      const card = (await readPlugin(join(root, `step-${step}`), backbone)).card;
      expect(card.training.steps).toBe(step);
      // One schedule: the cosine runs to the largest candidate in both.
      expect(card.training.options.steps).toBe(6);
    }
  });

  it('a run killed at a candidate step (checkpoint there, plugin not yet saved) resumes to the same plugins', async () => {
    const straight = tmp();
    await run(straight);
    const killed = tmp();
    // The checkpoint of step 3 is written, then the process dies before the candidate is saved.
    await trainPlugin({
      ...train,
      options: { ...train.options, steps: 6 },
      outDir: join(killed, 'train'),
      stopAfter: 3,
    });
    expect(existsSync(join(killed, 'step-3'))).toBe(false);
    await run(killed);
    for (const step of [3, 6]) {
      const [a, b] = [await weightsAt(join(straight, `step-${step}`)), await weightsAt(join(killed, `step-${step}`))];
      for (const [k, t] of a) expect(b.get(k)!.data, `${k} at step ${step}`).toEqual(t.data);
    }
  });

  it('re-scores a candidate saved by an earlier run instead of training it again', async () => {
    const straight = tmp();
    await run(straight);
    const killed = tmp();
    const failing = async (_dir: string, step: number) => {
      if (step === 6) throw new Error('killed while scoring');
      return { auroc: 0.7, val: step };
    };
    await expect(run(killed, failing)).rejects.toThrow('killed while scoring');
    const resumed = await run(killed);
    expect(Number.isNaN(resumed.candidates[0]!.trainLoss)).toBe(true); // read back, not trained
    expect(resumed.best.step).toBe(6);
    const [a, b] = [await weightsAt(join(straight, 'step-6')), await weightsAt(join(killed, 'step-6'))];
    for (const [k, t] of a) expect(b.get(k)!.data).toEqual(t.data);
  });
});
