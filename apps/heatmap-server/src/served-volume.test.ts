import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { servedVolume } from './testing/served-volume.js';

// Written and read back by nibabel: fixtures/make_nifti.py (oblique sform winning over a qform, scaled
// little-endian int16; big-endian float32 with a rotated qform and qfac −1).
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const expected = JSON.parse(readFileSync(fixture('nifti-expected.json'), 'utf8')) as Record<
  string,
  { dims: number[]; affine: number[]; data: number[] }
>;

describe('uploads are read by core’s reader, as nibabel reads them', () => {
  it.each(Object.keys(expected))('%s: size, affine (RAS → LPS) and scaled voxels', async (name) => {
    const want = expected[name]!;
    const v = await servedVolume(fixture(name));
    expect([...v.size]).toEqual(want.dims);
    // nibabel's affine maps to RAS; core's to LPS: the first two rows change sign. Where the qform and
    // the sform disagree, core reads as ITK does (the qform, the CLI's reading too), nibabel the sform.
    const ras =
      name === 'le_int16_scaled.nii.gz' ? [0.8, 0, 0, 0, 0, 0.9, 0, 0, 0, 0, 2.5, 0, 0, 0, 0, 1] : want.affine;
    v.affine.forEach((a, i) => {
      expect(a).toBeCloseTo((i < 8 ? -1 : 1) * ras[i]!, 4);
    });
    expect(v.data.length).toBe(want.data.length);
    want.data.forEach((d, i) => {
      expect(Number(v.data[i])).toBeCloseTo(d, 3);
    });
  });
});
