import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NNUNET_AUGMENT } from '../augment/augment.js';
import { volumePixels } from '../pipeline/embed-volume.js';
import { inputViews, type PluginInput } from '../plugin/input.js';
import { augmentCase, prepareCaseVolume } from '../plugin/recipe.js';
import { randomTinyVitWeights, TinyVit } from '../testing/tiny-vit.js';
import { Random } from '../util/random.js';
import type { Processed } from '../volume/record.js';
import type { Volume } from '../volume/types.js';
import type { CaseUse, VolumeCase } from './backbone-trainer.js';
import { trainPlugin } from './train-plugin.js';

/**
 * LoRA training with the recipe's augmentation: each use of a case (step, micro-batch, slot) draws
 * its own transforms from the recipe's seed, so two runs with one seed train the same weights and a
 * run killed and resumed ends byte for byte where an uninterrupted one does.
 */
const spec = { dim: 16, depth: 1, heads: 2, mlp: 32, patch: 4, image: 8 };
const vit = new TinyVit(spec, randomTinyVitWeights(spec, 1));
const recipe: PluginInput = {
  views: [{ name: 'axial', axis: 'axial' }],
  size: [8, 8],
  channels: { replicate: true, range: [-3, 3] },
  normalisation: null,
  augmentation: { method: 'nnunet-3d', seed: 11, config: NNUNET_AUGMENT },
};
const task = {
  task: 'toy',
  kind: 'multilabel' as const,
  labels: ['a'],
  views: ['axial'],
  axis: 'axial' as const,
  windows: [],
  inputSize: [8, 8] as [number, number],
  input: recipe,
};
const options = { steps: 6, batchSize: 2, accumulate: 1, warmup: 1, lrLora: 5e-2, lrHead: 5e-2, seed: 3 };

function volume(seed: number): Volume {
  const r = new Random(seed);
  const data = Float32Array.from({ length: 10 * 10 * 6 }, (_, i) => Math.sin(i * 0.3 + seed) + 0.3 * r.normal());
  return {
    size: [10, 10, 6],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
    data,
  };
}

/** On-demand cases as the CLI builds them: a fresh augmentation per use, none without one. */
function cases(input: PluginInput, seen?: string[]): VolumeCase[] {
  const [view] = inputViews(input, { mean: [0, 0, 0], std: [1, 1, 1] });
  return [1, 2, 3, 4].map((k) => {
    const prepared: Processed = prepareCaseVolume(volume(k), input, `case${k}`).volume;
    let current = volumePixels(prepared, view!);
    return {
      id: `case${k}`,
      labels: [k % 2],
      load: async (use?: CaseUse) => {
        if (!use) return;
        seen?.push(`case${k}@${use.step}.${use.micro}.${use.slot}`);
        current = volumePixels(augmentCase(prepared, undefined, input, `case${k}`, use).volume, view!);
      },
      get pixels() {
        return current.pixels;
      },
      get slices() {
        return current.slices;
      },
    };
  });
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'anymc3d-aug-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const train = (input: PluginInput, outDir: string, stopAfter?: number, seen?: string[]) =>
  trainPlugin({
    source: { backbone: vit, cases: cases(input, seen), chunk: 3 },
    task: { ...task, input },
    outDir,
    options,
    checkpointEvery: 1,
    threads: 1,
    ...(stopAfter !== undefined ? { stopAfter } : {}),
  });

describe('LoRA training with the recipe’s 3D augmentation', () => {
  it('is deterministic under a seed, differs without augmentation, and resumes byte-identically after a kill', async () => {
    const seen: string[] = [];
    const a = tmp();
    await train(recipe, a, undefined, seen);
    // Every case use of the schedule was a load with its own (step, micro, slot).
    expect(seen).toHaveLength(options.steps * options.batchSize);
    expect(new Set(seen).size).toBe(seen.length);
    const b = tmp();
    await train(recipe, b);
    const weights = (dir: string) => readFileSync(join(dir, 'plugin.safetensors'));
    expect(weights(b).equals(weights(a))).toBe(true);

    const plain = tmp();
    await train({ ...recipe, augmentation: null }, plain);
    expect(weights(plain).equals(weights(a))).toBe(false);
    const otherSeed = tmp();
    await train({ ...recipe, augmentation: { ...recipe.augmentation!, seed: 12 } }, otherSeed);
    expect(weights(otherSeed).equals(weights(a))).toBe(false);

    const killed = tmp();
    const first = await train(recipe, killed, 2);
    expect(first.losses).toHaveLength(2);
    const resumed = await train(recipe, killed);
    expect(resumed.resumedFrom).toBe(2);
    expect(weights(killed).equals(weights(a))).toBe(true);
    // The plugin card records the augmentation it was trained with.
    const card = JSON.parse(readFileSync(join(a, 'plugin.json'), 'utf8')) as { input: PluginInput };
    expect(card.input.augmentation).toEqual(recipe.augmentation);
  });
});
