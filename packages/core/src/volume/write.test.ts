import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertSameArray } from '../testing/arrays.js';
import { pythonReferenceAvailable, runPython } from '../testing/python.js';
import { expectAffine, FIXTURES, REFERENCE } from './fixtures.test-helpers.js';
import { readVolume } from './read.js';
import { voxelType } from './types.js';
import { writeVolume } from './write.js';

const DESCRIBE = fileURLToPath(new URL('../../fixtures/nib_describe.py', import.meta.url));

describe('writeVolume', () => {
  for (const suffix of ['.nii.gz', '.mha', '.nrrd']) {
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
