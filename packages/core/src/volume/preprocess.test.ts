import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { pythonReferenceAvailable, runPython } from '../testing/python.js';
import { expectAffine, FIXTURES } from './fixtures.test-helpers.js';
import { indexToWorld } from './geometry.js';
import { CHEST_CT_WINDOWS, IMAGENET_MEAN, IMAGENET_STD, mriNormalize } from './intensity.js';
import { readVolume } from './read.js';
import { mapSumToSource, mapToSource } from './record.js';
import { cropOrPad, reorient, resampleToSize, resampleToSpacing } from './spatial.js';
import type { Vec3, Volume } from './types.js';
import { sliceBatches } from './views.js';

const SCRIPT = fileURLToPath(new URL('../../fixtures/reference_preprocess.py', import.meta.url));

interface PythonReference {
  ras: { affine: number[][]; shape: number[]; data: number[] };
  trilinear: { size: Vec3; data: number[] };
  nearest: { size: Vec3; data: number[] };
  axial: { size: [number, number]; data: number[] };
  coronal: { size: [number, number]; data: number[] };
  mri: { clip: [number, number]; mean: number; std: number; data: number[] };
}

function expectClose(got: ArrayLike<number>, want: number[], tolerance: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

function collect(batches: Iterable<{ data: Float32Array }>): Float32Array {
  const parts = [...batches].map((b) => b.data);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('preprocessing against nibabel and PyTorch', () => {
  let image: Volume;
  let mask: Volume;
  let ref: PythonReference | null = null;
  beforeAll(async () => {
    image = (await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'))).volume;
    mask = (await readVolume(join(FIXTURES, 'oblique_mask.nii.gz'))).volume;
    if (await pythonReferenceAvailable(['nibabel', 'torch']))
      ref = JSON.parse(
        await runPython(SCRIPT, [join(FIXTURES, 'oblique_int16.nii.gz'), join(FIXTURES, 'oblique_mask.nii.gz')]),
      );
  });

  it('reorient to RAS equals nibabel.as_closest_canonical (voxels and affine)', () => {
    if (!ref) return;
    const { volume } = reorient(image, 'RAS');
    expect(volume.size).toEqual(ref.ras.shape);
    expect(volume.data).toBeInstanceOf(Int16Array);
    expectClose(volume.data, ref.ras.data, 0);
    expectAffine(volume, ref.ras.affine, 4);
  });

  it('trilinear (image) and nearest (mask) resampling equal torch interpolate', () => {
    if (!ref) return;
    const lin = resampleToSize(image, ref.trilinear.size).volume;
    expect(lin.data).toBeInstanceOf(Float32Array);
    expectClose(lin.data, ref.trilinear.data, 1e-2);
    const near = resampleToSize(mask, ref.nearest.size, { interpolation: 'nearest' }).volume;
    expect(near.data).toBeInstanceOf(Uint8Array);
    expectClose(near.data, ref.nearest.data, 0);
  });

  it('axial and coronal slice views equal torch bilinear resize + windows + ImageNet mean/std', () => {
    if (!ref) return;
    for (const axis of ['axial', 'coronal'] as const) {
      const views = sliceBatches(image, {
        axis,
        size: ref[axis].size,
        patch: 14,
        channels: { windows: CHEST_CT_WINDOWS },
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        chunk: 5,
      });
      const batches = [...views];
      expect(batches.map((b) => b.start)).toEqual(Array.from({ length: batches.length }, (_, i) => i * 5));
      expect(Math.max(...batches.map((b) => b.count))).toBe(5);
      expectClose(collect(batches), ref[axis].data, 1e-4);
    }
  });

  it('MRI percentile clip + z-score equals numpy', () => {
    if (!ref) return;
    const n = mriNormalize(image);
    expect(n.clip[0]).toBeCloseTo(ref.mri.clip[0], 3);
    expect(n.clip[1]).toBeCloseTo(ref.mri.clip[1], 3);
    expect(n.mean).toBeCloseTo(ref.mri.mean, 3);
    expectClose(n.volume.data, ref.mri.data, 1e-4);
  });
});

describe('reorienting inside the resampling pass', () => {
  for (const target of ['RAS', 'LPS', 'SLA'])
    it(`to ${target}: the same voxels and the same record as reorient, then resample`, async () => {
      const image = (await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'))).volume;
      const spacing: Vec3 = [1.3, 0.9, 2.1];
      for (const interpolation of ['linear', 'nearest'] as const) {
        const fused = resampleToSpacing(image, spacing, { interpolation, orientation: target });
        const apart = resampleToSpacing(reorient(image, target), spacing, { interpolation });
        expect(fused.volume.size).toEqual(apart.volume.size);
        expect(fused.record).toEqual(apart.record);
        let worst = 0;
        for (let i = 0; i < fused.volume.data.length; i++)
          worst = Math.max(worst, Math.abs(fused.volume.data[i]! - apart.volume.data[i]!));
        expect(worst, interpolation).toBe(0);
      }
    });
});

describe('the spatial record maps results back onto the source grid', () => {
  it('mapSumToSource is the weighted sum of each map brought back by mapToSource, in one pass', async () => {
    const image = (await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'))).volume;
    const p = resampleToSpacing(reorient(image, 'LPS'), [1.3, 1.1, 1.7]);
    const maps = (['axial', 'coronal', 'sagittal'] as const).map((axis, v) => {
      const views = sliceBatches(p, { axis, size: [12, 10], channels: { replicate: true } });
      const size = views.record.steps.at(-1)!.output.size;
      const values = Float32Array.from({ length: size[0] * size[1] * size[2] }, (_, q) => Math.sin(q * (v + 1) * 0.37));
      return { values, record: views.record, weight: [0.5, 0.3, 0.2][v]! };
    });
    const sum = mapSumToSource(maps, { fill: -2 });
    expect(sum.size).toEqual(image.size);
    expect(sum.direction).toEqual(image.direction);
    const each = maps.map((m) => mapToSource(m.values, m.record, { fill: -2 }).data);
    let worst = 0;
    for (let i = 0; i < sum.data.length; i++) {
      const want = maps.reduce((acc, m, v) => acc + m.weight * each[v]![i]!, 0);
      worst = Math.max(worst, Math.abs(sum.data[i]! - want));
    }
    expect(worst).toBeLessThan(1e-6);
    expect(() => mapSumToSource([])).toThrow(/no maps/);
  });

  it('a world-coordinate field survives reorient → resample → crop/pad → coronal slices → mapToSource', async () => {
    const image = (await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'))).volume;
    let p = reorient(image, 'LPS');
    p = resampleToSpacing(p, [1.1, 1.1, 1.1]);
    p = cropOrPad(p, [p.volume.size[0] + 4, p.volume.size[1] - 2, p.volume.size[2]]);
    const views = sliceBatches(p, { axis: 'coronal', size: [32, 48], channels: { replicate: true } });
    // A heatmap over the slice stack whose value is the world y coordinate of each pixel: linear
    // in index, so trilinear mapping back must reproduce the source voxels' own y (inside the FOV).
    const stack = views.record.steps.at(-1)!.output;
    const [W, H, S] = stack.size;
    const heat = new Float32Array(W * H * S);
    for (let s = 0, q = 0; s < S; s++)
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++, q++) heat[q] = indexToWorld(stack, [w, h, s])[1];
    const back = mapToSource(heat, views.record, { fill: Number.NaN });
    expect(back.size).toEqual(image.size);
    expect(back.origin).toEqual(image.origin);
    expect(back.direction).toEqual(image.direction);
    let checked = 0;
    for (let k = 1; k < image.size[2] - 1; k++)
      for (let j = 2; j < image.size[1] - 2; j++)
        for (let i = 4; i < image.size[0] - 4; i++) {
          const v = back.data[i + image.size[0] * (j + image.size[1] * k)]!;
          if (Number.isNaN(v)) continue;
          expect(v).toBeCloseTo(indexToWorld(image, [i, j, k])[1], 3);
          checked++;
        }
    expect(checked).toBeGreaterThan(image.data.length / 3);
  });

  it('nearest mapping of a reoriented, padded mask restores the original labels exactly', async () => {
    const mask = (await readVolume(join(FIXTURES, 'oblique_mask.nii.gz'))).volume;
    let p = reorient(mask, 'RAS');
    p = cropOrPad(p, [p.volume.size[0] + 3, p.volume.size[1] + 2, p.volume.size[2] + 5], { fill: 7 });
    expect(Array.from(p.volume.data).filter((x) => x === 7).length).toBe(p.volume.data.length - mask.data.length);
    const back = mapToSource(p.volume.data, p.record, { interpolation: 'nearest' });
    expect(Array.from(back.data)).toEqual(Array.from(mask.data));
  });

  it('slice batches reject a size that is not a multiple of the patch', async () => {
    const image = (await readVolume(join(FIXTURES, 'oblique_uint8.nii.gz'))).volume;
    expect(() =>
      sliceBatches(image, { axis: 'axial', size: [30, 28], patch: 14, channels: { replicate: true } }),
    ).toThrow(/multiple of the backbone's patch size 14/);
  });
});

describe('slice batches stream a long volume chunk by chunk', () => {
  it('a 1000-slice volume comes out in batches of at most `chunk` slices, in order', () => {
    const size: Vec3 = [32, 24, 1000];
    const data = new Int16Array(32 * 24 * 1000);
    for (let k = 0; k < 1000; k++) data.fill(k - 500, k * 768, (k + 1) * 768);
    const volume: Volume = {
      data,
      size,
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    };
    const views = sliceBatches(volume, {
      axis: 'axial',
      size: [28, 28],
      channels: { replicate: true, range: [-500, 499] },
      chunk: 16,
    });
    expect(views.slices).toBe(1000);
    let next = 0;
    for (const batch of views) {
      expect(batch.start).toBe(next);
      expect(batch.data.length).toBe(batch.count * 3 * 28 * 28);
      expect(batch.count).toBeLessThanOrEqual(16);
      // Every pixel of slice s carries (s − 500) mapped from [−500, 499] to [0, 1].
      expect(batch.data[0]).toBeCloseTo(next / 999, 5);
      next += batch.count;
    }
    expect(next).toBe(1000);
  });
});
