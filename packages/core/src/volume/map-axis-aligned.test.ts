import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { FIXTURES } from './fixtures.test-helpers.js';
import { applyAffine, invertAffine } from './geometry.js';
import { axisAligned } from './map-axis-aligned.js';
import { readVolume } from './read.js';
import {
  currentGrid,
  mapSlicesToSource,
  mapSumToSource,
  mapToSource,
  nearest,
  type SpatialRecord,
  toSourceIndexMap,
  trilinear,
  type WeightedMap,
} from './record.js';
import { cropOrPad, reorient, resampleToSpacing } from './spatial.js';
import type { Vec3 } from './types.js';
import { sliceBatches } from './views.js';

/** The map brought back voxel by voxel: each source index sent through the inverse map, then `trilinear` / `nearest`. */
function reference(m: WeightedMap, fill: number, linear: boolean): Float64Array {
  const src = m.record.source.size;
  const size = currentGrid(m.record).size;
  const toCurrent = invertAffine(toSourceIndexMap(m.record));
  const out = new Float64Array(src[0] * src[1] * src[2]);
  for (let k = 0, p = 0; k < src[2]; k++)
    for (let j = 0; j < src[1]; j++)
      for (let i = 0; i < src[0]; i++, p++) {
        const [x, y, z] = applyAffine(toCurrent, [i, j, k]);
        const outside = [x, y, z].some((c, a) => c < -0.5 || c > size[a]! - 0.5);
        out[p] =
          m.weight * (outside ? fill : linear ? trilinear(m.values, size, x, y, z) : nearest(m.values, size, x, y, z));
      }
  return out;
}

function expectSum(maps: WeightedMap[], fill: number, linear: boolean) {
  const got = mapSumToSource(maps, { fill, interpolation: linear ? 'linear' : 'nearest' }).data;
  const refs = maps.map((m) => reference(m, fill, linear));
  let worst = 0;
  for (let p = 0; p < got.length; p++) {
    const want = refs.reduce((s, r) => s + r[p]!, 0);
    worst = Math.max(worst, Math.abs(got[p]! - want) / Math.max(1, Math.abs(want)));
  }
  expect(worst).toBeLessThan(2e-6);
}

const noise = (n: number, seed: number) => {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => r.uniform(-1, 1));
};

/** A map over a grid turned 30° about k in index space: not axis-aligned, so it takes the per-voxel sweep. */
function turnedMap(source: SpatialRecord['source'], weight: number): WeightedMap {
  const t = Math.PI / 6;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  const size: Vec3 = [9, 11, 7];
  const indexMap = new Float64Array([1.7 * c, -1.9 * s, 0, 3, 1.7 * s, 1.9 * c, 0, -2, 0, 0, 2.2, 0.4, 0, 0, 0, 1]);
  const output = { ...source, size };
  return {
    values: noise(size[0] * size[1] * size[2], 3),
    record: { source, steps: [{ op: 'resample', input: source, output, indexMap, params: {} }] },
    weight,
  };
}

describe('mapping back through axis-aligned records (separable interpolation)', async () => {
  const image = (await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'))).volume;
  // Reorientation flips and permutes axes, resampling scales, crop/pad shifts (and leaves voxels
  // outside the field of view), and each slice axis permutes again and resizes.
  const prepared = cropOrPad(resampleToSpacing(reorient(image, 'RAS'), [1.3, 0.9, 2.1]), [18, 30, 9]);
  const views = (['axial', 'coronal', 'sagittal'] as const).map((axis, v): WeightedMap => {
    const record = sliceBatches(prepared, { axis, size: [12, 10], channels: { replicate: true } }).record;
    const size = currentGrid(record).size;
    return { values: noise(size[0] * size[1] * size[2], v + 1), record, weight: [0.5, -0.3, 1.2][v]! };
  });

  it('every step the project records is axis-aligned; a turned map is not', () => {
    for (const m of views) expect(axisAligned(invertAffine(toSourceIndexMap(m.record)))).not.toBeNull();
    const turned = turnedMap(image, 1);
    expect(axisAligned(invertAffine(toSourceIndexMap(turned.record)))).toBeNull();
  });

  for (const linear of [true, false])
    for (const fill of [0, -2])
      it(`${linear ? 'trilinear' : 'nearest'}, fill ${fill}: each view and their weighted sum equal the per-voxel reference`, () => {
        for (const m of views) expectSum([m], fill, linear);
        expectSum(views, fill, linear);
      });

  it('mapSlicesToSource gives exactly those slices of mapToSource, along each axis', () => {
    for (const m of [...views, turnedMap(image, 1)])
      for (const axis of [0, 1, 2] as const) {
        const whole = mapToSource(m.values, m.record, { fill: -3 });
        const indices = [image.size[axis] - 1, 0, Math.floor(image.size[axis] / 2)];
        const some = mapSlicesToSource(m.values, m.record, axis, indices, { fill: -3 });
        const [nx, ny] = image.size;
        let worst = 0;
        for (let k = 0, p = 0; k < some.size[2]; k++)
          for (let j = 0; j < some.size[1]; j++)
            for (let i = 0; i < some.size[0]; i++, p++) {
              const at = [i, j, k];
              at[axis] = indices[at[axis]!]!;
              worst = Math.max(worst, Math.abs(some.data[p]! - whole.data[at[0]! + nx * (at[1]! + ny * at[2]!)]!));
            }
        expect(some.size[axis]).toBe(3);
        expect(worst).toBeLessThan(1e-5);
      }
  });

  it('views of the whole volume (every plane covered, summed in one pass over each plane) equal the per-voxel reference', () => {
    // Resampled and reoriented, not cropped: every view covers every source voxel, so the maps'
    // planes are blended together (sumBlends), in passes of up to three maps.
    const whole = resampleToSpacing(reorient(image, 'LPS'), [1.1, 1.4, 1.7]);
    const wholeViews = (['axial', 'coronal', 'sagittal', 'axial'] as const).map((axis, v): WeightedMap => {
      const record = sliceBatches(whole, { axis, size: [7, 9], channels: { replicate: true } }).record;
      const size = currentGrid(record).size;
      return { values: noise(size[0] * size[1] * size[2], v + 11), record, weight: [0.7, -0.4, 1.1, 0.3][v]! };
    });
    for (const count of [1, 2, 3, 4]) expectSum(wholeViews.slice(0, count), 0, true);
  });

  it('a sum of axis-aligned and turned maps equals the per-voxel reference', () => {
    expectSum([...views, turnedMap(image, 0.7)], -1, true);
  });
});
