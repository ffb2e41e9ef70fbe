import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputViews, type PluginInput } from '../plugin/input.js';
import type { ManifestCase } from '../task/manifest.js';
import type { Volume } from '../volume/types.js';
import { writeVolume } from '../volume/write.js';
import { volumeCases } from '../workflows/volume-cases.js';

/** The same anatomy stored LPS and with its i axis reversed (voxels and direction flipped together). */
function pair(): [Volume, Volume] {
  const size: [number, number, number] = [6, 5, 4];
  const data = Int16Array.from({ length: 120 }, (_, i) => ((i * 37) % 200) - 100);
  const lps: Volume = {
    size,
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
    data,
  };
  const flipped = new Int16Array(120);
  for (let k = 0; k < 4; k++)
    for (let j = 0; j < 5; j++)
      for (let i = 0; i < 6; i++) flipped[5 - i + 6 * (j + 5 * k)] = data[i + 6 * (j + 5 * k)]!;
  return [lps, { ...lps, origin: [5, 0, 0], direction: Float64Array.of(-1, 0, 0, 0, 1, 0, 0, 0, 1), data: flipped }];
}

describe('the benchmark prepares cases through the recipe', () => {
  it('a case stored in another orientation gives the same pixels when the recipe names one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-recipe-'));
    const [lps, flipped] = pair();
    const paths = [join(dir, 'lps.nii.gz'), join(dir, 'rps.nii.gz')];
    await writeVolume(lps, paths[0]!);
    await writeVolume(flipped, paths[1]!);
    const cases: ManifestCase[] = paths.map((p, k) => ({
      id: `c${k}`,
      split: 'train',
      images: [p],
      mask: null,
      labels: Uint8Array.of(k),
      classIndex: null,
    }));
    const input: PluginInput = {
      views: [{ name: 'axial', axis: 'axial' }],
      size: [8, 8],
      channels: { replicate: true, range: [-100, 100] },
      normalisation: null,
    };
    const view = inputViews(input, { mean: [0, 0, 0], std: [1, 1, 1] })[0]!;
    const pixels = async (recipe: PluginInput) => {
      const out: number[][] = [];
      for (const c of await volumeCases(cases, recipe, [view])) {
        await c.load!();
        out.push(Array.from(c.pixels));
      }
      return out;
    };
    const asStored = await pixels(input);
    expect(asStored[1]).not.toEqual(asStored[0]);
    const oriented = await pixels({ ...input, orientation: 'LPS' });
    expect(oriented[1]).toEqual(oriented[0]);
  });
});
