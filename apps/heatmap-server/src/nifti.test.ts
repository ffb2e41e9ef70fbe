import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeNiftiFloat32, encodeNiftiUnitUint8, readNifti } from './nifti.js';

// Written and read back by nibabel: fixtures/make_nifti.py.
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const expected = JSON.parse(
  readFileSync(new URL('../fixtures/nifti-expected.json', import.meta.url), 'utf8'),
) as Record<string, { dims: number[]; affine: number[]; data: number[] }>;

describe('readNifti against nibabel', () => {
  it.each(Object.keys(expected))('%s: dims, affine and scaled voxels match', async (name) => {
    const want = expected[name] as { dims: number[]; affine: number[]; data: number[] };
    const v = await readNifti(fixture(name), name);
    expect(v.dims).toEqual(want.dims);
    v.affine.forEach((a, i) => {
      expect(a).toBeCloseTo(want.affine[i] as number, 5);
    });
    expect(v.data.length).toBe(want.data.length);
    want.data.forEach((d, i) => {
      expect(v.data[i]).toBeCloseTo(d, 4);
    });
  });

  it('writes a float32 volume on the same grid that reads back with the same affine', async () => {
    const source = await readNifti(fixture('le_int16_scaled.nii.gz'), 'src');
    const values = new Float32Array(source.data.length).map((_, i) => i / 100);
    const back = await readNifti(
      encodeNiftiFloat32(source, values, { calMin: 0, calMax: 1, description: 'heat' }),
      'x',
    );
    expect(back.dims).toEqual(source.dims);
    expect(back.affine).toEqual(source.affine);
    expect(Array.from(back.data)).toEqual(Array.from(values));
    expect([back.calMin, back.calMax, back.description]).toEqual([0, 1, 'heat']);
  });

  it('writes a [0, 1] volume as uint8 with slope 1/255 that reads back within half a step', async () => {
    const source = await readNifti(fixture('le_int16_scaled.nii.gz'), 'src');
    const values = new Float32Array(source.data.length).map((_, i) => (i % 17) / 16);
    const back = await readNifti(encodeNiftiUnitUint8(source, values, { calMin: 0, calMax: 1 }), 'u8');
    expect(back.affine).toEqual(source.affine);
    values.forEach((v, i) => {
      expect(Math.abs((back.data[i] as number) - v)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    });
  });

  it('refuses a file that is not NIfTI, and a truncated one, naming it', async () => {
    await expect(readNifti(new Uint8Array(400), 'a.nii')).rejects.toThrow(/^a\.nii: not a NIfTI-1 file/);
    const raw = fixture('be_float32.nii');
    await expect(readNifti(raw.subarray(0, 380), 'b.nii')).rejects.toThrow(/^b\.nii: holds 28 voxel bytes, needs 96/);
  });
});
