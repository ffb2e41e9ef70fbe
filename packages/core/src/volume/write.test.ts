import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImageNode } from '@itk-wasm/image-io';
import { describe, expect, it } from 'vitest';
import { assertSameArray } from '../testing/arrays.js';
import { pythonReferenceAvailable, runPython } from '../testing/python.js';
import { expectAffine, FIXTURES, REFERENCE } from './fixtures.test-helpers.js';
import { readVolume } from './read.js';
import { type Volume, voxelType } from './types.js';
import { writeVolume } from './write.js';

const DESCRIBE = fileURLToPath(new URL('../../fixtures/nib_describe.py', import.meta.url));

describe('writeVolume', () => {
  for (const suffix of ['.nii.gz', '.nii', '.mha', '.nrrd']) {
    it(`${suffix}: write → read keeps voxels, type and geometry exactly`, async () => {
      const { volume } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
      const dir = await mkdtemp(join(tmpdir(), 'anymc3d-write-'));
      const out = join(dir, `copy${suffix}`);
      await writeVolume(volume, out);
      expect(await readdir(dir)).toEqual([`copy${suffix}`]);
      const back = (await readVolume(out)).volume;
      expect(voxelType(back.data)).toBe('int16');
      expect(back.size).toEqual(volume.size);
      assertSameArray(back.data, volume.data);
      // NIfTI stores geometry as float32, the others as text: exact to float32 precision.
      for (let i = 0; i < 3; i++) {
        expect(back.spacing[i]!).toBeCloseTo(volume.spacing[i]!, 6);
        expect(back.origin[i]!).toBeCloseTo(volume.origin[i]!, 5);
      }
      for (let i = 0; i < 9; i++) expect(back.direction[i]!).toBeCloseTo(volume.direction[i]!, 6);
    });
  }

  it('nibabel reads the written .nii.gz with the same affine and voxels', async () => {
    if (!(await pythonReferenceAvailable(['nibabel']))) return;
    const { volume } = await readVolume(join(FIXTURES, 'aniso_float32.nii'));
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-write-'));
    const out = join(dir, 'out.nii.gz');
    await writeVolume(volume, out);
    const described = JSON.parse(await runPython(DESCRIBE, [out])) as {
      affineRAS: number[][];
      shape: number[];
      dtype: string;
      sum: number;
    };
    const ref = REFERENCE['aniso_float32.nii']!;
    expect(described.shape).toEqual(ref.shape);
    expect(described.dtype).toBe('float32');
    expect(described.sum).toBeCloseTo(ref.sum, 1);
    expectAffine(volume, described.affineRAS, 5);
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) expect(described.affineRAS[r]![c]!).toBeCloseTo(ref.affineRAS![r]![c]!, 5);
  });

  it('nibabel reads the same grid from the qform and from the sform, for oblique and left-handed grids', async () => {
    if (!(await pythonReferenceAvailable(['nibabel']))) return;
    const { volume: oblique } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
    // The same voxels on a left-handed grid turned 180° about k: qfac −1 and a quaternion with a = 0.
    const leftHanded = { ...oblique, direction: new Float64Array([-1, 0, 0, 0, -1, 0, 0, 0, -1]) };
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-write-'));
    for (const [name, volume] of [
      ['oblique', oblique],
      ['left-handed', leftHanded],
    ] as const) {
      const out = join(dir, `${name}.nii.gz`);
      await writeVolume(volume, out);
      const described = JSON.parse(await runPython(DESCRIBE, [out])) as {
        qformRAS: number[][];
        sformRAS: number[][];
        qformCode: number;
        sformCode: number;
        dtype: string;
      };
      expect([described.qformCode, described.sformCode], name).toEqual([1, 1]);
      expect(described.dtype).toBe('int16');
      expectAffine(volume, described.qformRAS, 4);
      expectAffine(volume, described.sformRAS, 5);
      assertSameArray((await readVolume(out)).volume.data, volume.data);
      // ITK itself (what Slicer and the ITK-based tools read with), not core's header fast path.
      const itk = await readImageNode(out);
      expect(itk.size).toEqual(volume.size);
      for (let k = 0; k < 3; k++) expect(itk.origin[k]!).toBeCloseTo(volume.origin[k]!, 4);
      for (let k = 0; k < 9; k++) expect(itk.direction[k]!, name).toBeCloseTo(volume.direction[k]!, 6);
    }
  });

  it('quantised to 16-bit codes with scl_slope: nibabel reads the values back within half a step', async () => {
    const size: [number, number, number] = [9, 8, 7];
    const data = Float32Array.from({ length: 504 }, (_, p) => (1 + Math.sin(p * 0.37)) / 2);
    data[3] = 0;
    data[11] = 1;
    const heat: Volume = {
      size,
      spacing: [0.8, 0.8, 2.5],
      origin: [-10, 5, 30],
      direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
      data,
    };
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-write-'));
    const out = join(dir, 'heat.nii.gz');
    await writeVolume(heat, out, { quantize: { range: [0, 1] } });
    const halfStep = 0.5 / 65535 + 1e-9;
    // Uncompressed too (the codes then go to the file a block at a time without gzip).
    const plain = join(dir, 'heat.nii');
    await writeVolume(heat, plain, { quantize: { range: [0, 1] } });
    for (const file of [out, plain]) {
      const { volume: back } = await readVolume(file);
      expect(back.data).toBeInstanceOf(Float32Array);
      for (let p = 0; p < data.length; p++) expect(Math.abs(back.data[p]! - data[p]!)).toBeLessThanOrEqual(halfStep);
      expect(back.data[3]).toBe(0);
      expect(back.data[11]).toBe(1);
    }
    if (await pythonReferenceAvailable(['nibabel'])) {
      const described = JSON.parse(await runPython(DESCRIBE, [out])) as {
        storedDtype: string;
        slope: number;
        inter: number;
        head: number[];
      };
      expect(described.storedDtype).toBe('uint16');
      expect(described.slope).toBeCloseTo(1 / 65535, 12);
      expect(described.inter).toBe(0);
      for (const [p, v] of described.head.entries()) expect(Math.abs(v - data[p]!)).toBeLessThanOrEqual(halfStep);
    }
    // A value outside the range is refused, naming the file and the voxel, and nothing is left behind.
    const bad = Float32Array.from(data);
    bad[100] = 1.5;
    await expect(
      writeVolume({ ...heat, data: bad }, join(dir, 'bad.nii.gz'), { quantize: { range: [0, 1] } }),
    ).rejects.toThrow(/bad\.nii\.gz.*voxel 100 is 1\.5, outside the range \[0, 1\]/);
    bad[100] = Number.NaN;
    await expect(
      writeVolume({ ...heat, data: bad }, join(dir, 'bad.nii.gz'), { quantize: { range: [0, 1] } }),
    ).rejects.toThrow(/voxel 100 is NaN/);
    expect((await readdir(dir)).sort()).toEqual(['heat.nii', 'heat.nii.gz']);
  });

  it("a dense map's 16-bit codes are stored, not deflated; a sparse map's are deflated; both read back (nibabel too)", async () => {
    const size: [number, number, number] = [64, 64, 40];
    const n = 64 * 64 * 40;
    // Dense: a smooth map positive everywhere (attention). Sparse: the same, zero on 9 of 10 slices.
    const dense = Float32Array.from({ length: n }, (_, p) => (1 + Math.sin(p * 0.013)) / 2);
    const sparse = dense.map((x, p) => (Math.floor(p / 4096) % 10 === 0 ? x : 0));
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-write-'));
    const geometry = {
      size,
      spacing: [1, 1, 2] as [number, number, number],
      origin: [0, 0, 0] as [number, number, number],
    };
    const direction = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
    for (const [name, data] of [
      ['dense', dense],
      ['sparse', sparse],
    ] as const) {
      for (const quantize of [true, false]) {
        const file = join(dir, `${name}-${quantize ? 'codes' : 'float'}.nii.gz`);
        await writeVolume({ ...geometry, direction, data }, file, quantize ? { quantize: { range: [0, 1] } } : {});
        const voxelBytes = n * (quantize ? 2 : 4);
        const bytes = (await stat(file)).size;
        if (name === 'sparse') expect(bytes, file).toBeLessThan(voxelBytes * 0.3);
        // Codes stored; float voxels as they are deflated (their exponent bytes compress).
        else if (quantize) expect(bytes, file).toBeGreaterThan(voxelBytes);
        else expect(bytes, file).toBeLessThan(voxelBytes);
        const { volume: back } = await readVolume(file);
        const tolerance = quantize ? 0.5 / 65535 + 1e-9 : 0;
        for (let p = 0; p < n; p += 97) expect(Math.abs(back.data[p]! - data[p]!)).toBeLessThanOrEqual(tolerance);
        if (quantize && (await pythonReferenceAvailable(['nibabel']))) {
          const described = JSON.parse(await runPython(DESCRIBE, [file])) as { head: number[] };
          for (const [p, v] of described.head.entries()) expect(Math.abs(v - data[p]!)).toBeLessThanOrEqual(tolerance);
        }
      }
    }
  });

  it('rejects an unknown suffix and invalid geometry without writing', async () => {
    const { volume } = await readVolume(join(FIXTURES, 'oblique_uint8.nii.gz'));
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-write-'));
    await expect(writeVolume(volume, join(dir, 'x.png'))).rejects.toThrow(/cannot write this format/);
    await expect(writeVolume({ ...volume, spacing: [1, 0, 1] }, join(dir, 'x.nii.gz'))).rejects.toThrow(
      /zero or negative spacing/,
    );
    expect(await readdir(dir)).toEqual([]);
  });
});
