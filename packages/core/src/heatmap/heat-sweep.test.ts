import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SpatialRecord, WeightedMap } from '../volume/record.js';
import type { Grid, Vec3 } from '../volume/types.js';
import { sweepHeat } from './heat-sweep.js';

// The compiled worker (vitest runs the sources, where heat-sweep-worker.js does not exist).
const BUILT_WORKER = new URL('../../dist/heatmap/heat-sweep-worker.js', import.meta.url);

const IDENTITY = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
const grid = (size: Vec3, spacing: Vec3): Grid => ({ size, spacing, origin: [0, 0, 0], direction: IDENTITY });

/** A coarse map of `size` over a 20×18×13 source grid: every cell `scale` source voxels along each axis. */
function coarseMap(size: Vec3, scale: Vec3, weight: number, seed: number): WeightedMap {
  const record: SpatialRecord = {
    source: grid([20, 18, 13], [1, 1, 1]),
    steps: [
      {
        op: 'resample',
        input: grid([20, 18, 13], [1, 1, 1]),
        output: grid(size, scale),
        indexMap: Float64Array.of(scale[0], 0, 0, 0.3, 0, scale[1], 0, -0.2, 0, 0, scale[2], 0.1, 0, 0, 0, 1),
        params: {},
      },
    ],
  };
  const values = Float32Array.from(
    { length: size[0] * size[1] * size[2] },
    (_, p) => Math.sin(p * 0.7 + seed) * 2 - 0.3,
  );
  return { values, record, weight };
}

describe('sweepHeat', () => {
  it('gives the same heatmap, peak and slice heat in workers (shared planes) as in one thread', async () => {
    if (!existsSync(fileURLToPath(BUILT_WORKER)))
      throw new Error('dist/heatmap/heat-sweep-worker.js is missing: run `npx turbo run build` before the tests');
    const maps = [coarseMap([5, 6, 4], [4, 3, 3.2], 0.6, 0), coarseMap([10, 9, 13], [2, 2, 1], 0.4, 1)];
    const one = await sweepHeat(maps, { threads: 1 });
    const three = await sweepHeat(maps, { threads: 3, parallelFrom: 0, workerUrl: BUILT_WORKER });
    expect(three.heat.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(one.heat.buffer).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(three.heat)).toEqual(Array.from(one.heat));
    expect(three.peak).toBe(one.peak);
    expect(three.max).toBe(one.max);
    for (const axis of [0, 1, 2] as const)
      for (const [i, m] of one.sliceHeat[axis].entries()) expect(three.sliceHeat[axis][i]).toBeCloseTo(m, 12);
    // Clipped at 0 and divided by the peak, which is where the map is 1.
    expect(Math.min(...one.heat)).toBe(0);
    expect(one.heat[one.peak]).toBe(1);
    expect(Math.max(...one.heat)).toBe(1);
    expect(one.heat.indexOf(1)).toBe(one.peak);
  });
});
