import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImageNode } from '@itk-wasm/image-io';
import { describe, expect, it } from 'vitest';
import { assertSameArray } from '../testing/arrays.js';
import { InputError } from '../util/errors.js';
import { regularizeSeries } from './dicom-regularize.js';
import { expectAffine, expectVoxels, FIXTURES, REFERENCE, SHARED_DATA } from './fixtures.test-helpers.js';
import { indexToWorld } from './geometry.js';
import { readNiftiFast, voxelBytes } from './nifti-fast.js';
import { niftiGeometry } from './nifti-geometry.js';
import { checkNifti } from './nifti-header.js';
import { readVolume } from './read.js';
import { voxelType } from './types.js';

describe('readVolume against nibabel', () => {
  for (const name of [
    'oblique_int16.nii.gz',
    'oblique_uint8.nii.gz',
    'aniso_float32.nii',
    'oblique_mask.nii.gz',
    'sform_only_int16.nii.gz',
  ]) {
    it(`${name}: voxels, dtype and RAS affine equal nibabel's`, async () => {
      const ref = REFERENCE[name]!;
      const { volume, format } = await readVolume(join(FIXTURES, name));
      expect(format).toBe('nifti');
      expect(voxelType(volume.data)).toBe(ref.dtype);
      expectVoxels(volume, ref);
      expectAffine(volume, ref.affineRAS!);
    });
  }

  it('a scaled NIfTI (scl_slope/scl_inter) is read with the scaling applied, as nibabel applies it', async () => {
    const ref = REFERENCE['scaled_int16.nii.gz']!;
    const { volume } = await readVolume(join(FIXTURES, 'scaled_int16.nii.gz'));
    expectVoxels(volume, ref);
    expectAffine(volume, ref.affineRAS!);
  });

  it('the native-zlib NIfTI path gives exactly what a full ITK read gives', async () => {
    for (const path of [
      join(FIXTURES, 'oblique_int16.nii.gz'),
      join(FIXTURES, 'aniso_float32.nii'),
      join(FIXTURES, 'small_4d.nii.gz'),
      join(FIXTURES, 'sform_only_int16.nii.gz'),
      join(FIXTURES, 'scaled_int16.nii.gz'),
      join(SHARED_DATA, 'mri/FLAIR.nii.gz'),
    ]) {
      const header = await checkNifti(path);
      expect(niftiGeometry(header), `${path}: geometry from the header`).not.toBeNull();
      const fast = await readNiftiFast(path, header);
      expect(fast, path).not.toBeNull();
      const full = await readImageNode(path);
      expect(fast!.size).toEqual(full.size);
      expect(fast!.imageType).toEqual(full.imageType);
      assertSameArray(fast!.data as Uint8Array, full.data as unknown as Uint8Array, path);
      // ITK computes in float32 (nifti1_io), the header path in float64: equal to 1e-6.
      const close = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>) => {
        for (let i = 0; i < a.length; i++) expect(Number(a[i])).toBeCloseTo(Number(b[i]), 5);
      };
      close(fast!.spacing, full.spacing);
      close(fast!.origin, full.origin);
      close(fast!.direction, full.direction);
    }
  });

  it('where qform and sform disagree ITK decides the geometry, from a shrunken header copy', async () => {
    for (const name of ['disagree_scanner_int16.nii.gz', 'disagree_aligned_int16.nii.gz']) {
      const path = join(FIXTURES, name);
      const header = await checkNifti(path);
      expect(niftiGeometry(header), name).toBeNull();
      const fast = (await readNiftiFast(path, header))!;
      const full = await readImageNode(path);
      expect(fast.size).toEqual(full.size);
      expect(fast.origin).toEqual(full.origin);
      expect(fast.spacing).toEqual(full.spacing);
      expect(fast.direction).toEqual(full.direction);
      assertSameArray(fast.data as Uint8Array, full.data as unknown as Uint8Array, name);
    }
  });

  it('voxel bytes inflated in place equal those copied out of small chunks, aligned or not', async () => {
    const path = join(FIXTURES, 'oblique_int16.nii.gz');
    const header = await checkNifti(path);
    const length = header.dims.reduce((a, b) => a * b, 1) * 2;
    const inPlace = (await voxelBytes(path, true, header.voxOffset, length, 2))!;
    // In place: a view into zlib's one output buffer, past the header.
    expect(inPlace.byteOffset).toBe(header.voxOffset);
    const copied = (await voxelBytes(path, true, header.voxOffset, length, 2, 1000))!;
    expect(copied.byteOffset).toBe(0);
    assertSameArray(copied, inPlace, 'chunked copy');
    const odd = (await voxelBytes(path, true, header.voxOffset + 1, length - 2, 2))!;
    expect(odd.byteOffset % 2).toBe(0);
    assertSameArray(odd, inPlace.subarray(1, length - 1), 'misaligned start');
    expect(await voxelBytes(path, true, header.voxOffset, length + 1, 2)).toBeNull();
    // The compressed file read 997 bytes at a time, two buffers taking turns: the same bytes.
    assertSameArray((await voxelBytes(path, true, header.voxOffset, length, 2, 1000, 997))!, inPlace, 'small reads');
  });

  it('gzip data corrupt inside the stream is a clear error naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-read-'));
    const path = join(dir, 'corrupt.nii.gz');
    // Real MRI, 1 MB compressed: its header (and the size its gzip trailer promises) intact, its
    // deflate blocks broken halfway, past what the header check inflates.
    const bytes = await readFile(join(SHARED_DATA, 'mri/FLAIR.nii.gz'));
    bytes.fill(0xff, bytes.length >> 1, (bytes.length >> 1) + 64);
    await writeFile(path, bytes);
    const header = await checkNifti(path);
    const length = header.dims.reduce((a, b) => a * b, 1) * 2;
    for (const readBytes of [65536, 4 << 20]) {
      const error = await voxelBytes(path, true, header.voxOffset, length, 2, undefined, readBytes).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toMatch(/corrupt\.nii\.gz.*corrupt compressed data/);
    }
  });

  it('a sheared sform without a qform is a clear error (ITK cannot hold it either)', async () => {
    const path = join(FIXTURES, 'sform_shear_int16.nii.gz');
    expect(niftiGeometry(await checkNifti(path))).toBeNull();
    await expect(readImageNode(path)).rejects.toBeDefined();
    const error = await readVolume(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/sform_shear_int16\.nii\.gz.*sform is sheared .* no qform/);
  });

  it('real MRI (FLAIR and its lesion mask) match nibabel', async () => {
    for (const name of ['mri/FLAIR.nii.gz', 'mri/lesion.nii.gz']) {
      const ref = REFERENCE[`shared:${name}`]!;
      const { volume } = await readVolume(join(SHARED_DATA, name));
      expect(voxelType(volume.data)).toBe(ref.dtype);
      expectVoxels(volume, ref);
      expectAffine(volume, ref.affineRAS!);
    }
  });
});

let tilt: ReturnType<typeof readVolume> | undefined;
const storedTilt = () => {
  tilt ??= readVolume(join(SHARED_DATA, 'dicom/ct-gantry-tilt'), { dicomGrid: 'stored' });
  return tilt;
};

describe('readVolume: DICOM against pydicom', () => {
  it('assembles a shuffled oblique series in position order with the rescale applied', async () => {
    const ref = REFERENCE.dicom_series!;
    const { volume, format, dicom } = await readVolume(join(FIXTURES, 'dicom_series'));
    expect(format).toBe('dicom-series');
    expect(voxelType(volume.data)).toBe('int16');
    expectVoxels(volume, ref);
    expect(dicom!.positions).toEqual(ref.positions);
    expect(dicom!.description).toBe('fixture oblique CT');
    expect(dicom!.unevenSpacing).toBe(false);
    expect(dicom!.tiltDegrees).toBeLessThan(1e-3);
    expect(volume.origin).toEqual(ref.positions![0]);
    // Column spacing first (x = column index), then row spacing, then the slice gap.
    expect(volume.spacing[0]).toBeCloseTo(ref.pixelSpacing![1]!, 6);
    expect(volume.spacing[1]).toBeCloseTo(ref.pixelSpacing![0]!, 6);
    expect(volume.spacing[2]).toBeCloseTo(3, 6);
    // Direction columns are the row and column cosines (ImageOrientationPatient).
    for (let r = 0; r < 3; r++) {
      expect(volume.direction[r * 3]!).toBeCloseTo(ref.iop![r]!, 5);
      expect(volume.direction[r * 3 + 1]!).toBeCloseTo(ref.iop![3 + r]!, 5);
    }
  });

  it('the tilted, unevenly spaced CT series: stored slices equal pydicom, in position order', async () => {
    const ref = REFERENCE['shared:dicom/ct-gantry-tilt']!;
    const { volume, dicom } = await storedTilt();
    expectVoxels(volume, ref);
    expect(dicom!.positions).toEqual(ref.positions);
    expect(volume.origin[0]).toBeCloseTo(ref.positions![0]![0]!, 4);
    expect(dicom!.unevenSpacing).toBe(true);
    expect(dicom!.tiltDegrees).toBeCloseTo(18.5, 0);
    expect(dicom!.gantryTiltTag).toBeCloseTo(18.5, 5);
    expect(dicom!.maxPositionError).toBeGreaterThan(1);
    expect(dicom!.regularized).toBe(false);
  });

  it('by default the tilted series is resampled so every voxel sits at its measured position', async () => {
    const stored = await storedTilt();
    const regular = await readVolume(join(SHARED_DATA, 'dicom/ct-gantry-tilt'));
    expect(regular.dicom!.regularized).toBe(true);
    expect(regular.volume.data).toBeInstanceOf(Int16Array);
    expect(regular.volume.origin).toEqual(stored.dicom!.positions[0]);
    // The first slice is the first stored slice, untouched.
    const plane = 512 * 512;
    expect(regular.volume.data.subarray(0, plane)).toEqual(stored.volume.data.subarray(0, plane));
    // A field equal to each stored voxel's true world y (from its own ImagePositionPatient) must
    // come out equal to each regular voxel's world y: the geometry is right, slice by slice.
    const g = stored.volume;
    const r = [g.direction[0]!, g.direction[3]!, g.direction[6]!];
    const c = [g.direction[1]!, g.direction[4]!, g.direction[7]!];
    const field = new Float32Array(g.data.length);
    stored.dicom!.positions.forEach((p, k) => {
      for (let j = 0; j < 512; j++)
        for (let i = 0; i < 512; i++)
          field[k * plane + j * 512 + i] = p[1]! + i * g.spacing[0] * r[1]! + j * g.spacing[1] * c[1]!;
    });
    const out = regularizeSeries({ ...g, data: field }, stored.dicom!);
    let fill = Number.POSITIVE_INFINITY;
    for (const v of field) fill = Math.min(fill, v);
    let checked = 0;
    for (let t = 0; t < 28; t += 3)
      for (let j = 0; j < 512; j += 17)
        for (let i = 0; i < 512; i += 31) {
          const v = out.data[t * plane + j * 512 + i]!;
          if (v === fill) continue;
          expect(v).toBeCloseTo(indexToWorld(out, [i, j, t])[1], 2);
          checked++;
        }
    expect(checked).toBeGreaterThan(1000);
    // The stored stack's own grid is wrong by tens of mm for late slices; the regular grid is not.
    expect(Math.abs(indexToWorld(g, [0, 0, 27])[1] - stored.dicom!.positions[27]![1]!)).toBeGreaterThan(5);
  });

  it('one slice of a rescaled CT read on its own equals its slice in the series, as int16', async () => {
    const series = (await readVolume(join(FIXTURES, 'dicom_series'))).volume;
    const one = await readVolume(join(FIXTURES, 'dicom_series', 's003.dcm'));
    expect(one.format).toBe('dicom');
    expect(one.volume.data).toBeInstanceOf(Int16Array);
    expect(one.volume.size).toEqual([20, 16, 1]);
    assertSameArray(one.volume.data, series.data.subarray(0, 20 * 16));
    expect(one.volume.origin).toEqual(series.origin);
  });

  it('all nine transfer syntaxes decode to identical voxels equal to pydicom', async () => {
    const ref = REFERENCE['shared:dicom/transfer-syntaxes/1.dcm']!;
    const first = await readVolume(join(SHARED_DATA, 'dicom/transfer-syntaxes/1.dcm'));
    expectVoxels(first.volume, ref);
    expect(first.volume.origin).toEqual(ref.position);
    for (let k = 2; k <= 9; k++) {
      const { volume } = await readVolume(join(SHARED_DATA, `dicom/transfer-syntaxes/${k}.dcm`));
      expect(Array.from(volume.data), `syntax ${k}`).toEqual(Array.from(first.volume.data));
      expect(volume.origin).toEqual(first.volume.origin);
    }
  });
});

async function expectInputError(promise: Promise<unknown>, source: string, problem: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).source).toBe(source);
  expect((error as InputError).problem).toMatch(problem);
}

describe('readVolume: bad input is a clear InputError naming the file', () => {
  const f = (name: string) => join(FIXTURES, name);
  it('missing file', () => expectInputError(readVolume(f('nope.nii.gz')), f('nope.nii.gz'), /no such file/));
  it('empty file', () => expectInputError(readVolume(f('empty.nii.gz')), f('empty.nii.gz'), /empty/));
  it('wrong magic', () => expectInputError(readVolume(f('wrong_magic.nii')), f('wrong_magic.nii'), /magic/));
  it('truncated gzip', () =>
    expectInputError(readVolume(f('truncated.nii.gz')), f('truncated.nii.gz'), /truncated gzip/));
  it('non-finite voxels', () =>
    expectInputError(readVolume(f('nonfinite.nii.gz')), f('nonfinite.nii.gz'), /2 non-finite voxel\(s\).*\[1, 1, 1\]/));
  it('zero spacing', () =>
    expectInputError(readVolume(f('zero_spacing.nii')), f('zero_spacing.nii'), /zero or negative spacing/));
  it('4D where 3D is required says which volume to take', async () => {
    await expectInputError(readVolume(f('small_4d.nii.gz')), f('small_4d.nii.gz'), /4D with 3 volumes.*0–2/);
    const { volume, volumes } = await readVolume(f('small_4d.nii.gz'), { volume: 2 });
    expect(volumes).toBe(3);
    expect(volume.size).toEqual([8, 9, 5]);
  });
  it('negative spacing (MetaImage)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-read-'));
    const path = join(dir, 'neg.mha');
    const header =
      'ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementSpacing = 1 -1 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n';
    await writeFile(path, Buffer.concat([Buffer.from(header), Buffer.alloc(8, 1)]));
    await expectInputError(readVolume(path), path, /zero or negative spacing/);
  });
  it('truncated DICOM pixel data', () =>
    expectInputError(
      readVolume(f('dicom_truncated')),
      join(FIXTURES, 'dicom_truncated', 's002.dcm'),
      /truncated DICOM pixel data/,
    ));
  it('a folder mixing two series', () =>
    expectInputError(readVolume(f('dicom_mixed')), f('dicom_mixed'), /mixes 2 DICOM series/));
  it('a folder of one-slice images at one position is not a series', () =>
    expectInputError(
      readVolume(join(SHARED_DATA, 'dicom/transfer-syntaxes')),
      join(SHARED_DATA, 'dicom/transfer-syntaxes'),
      /share one position/,
    ));
  it('a single DICOM file given as a series', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-read-'));
    await copyFile(join(FIXTURES, 'dicom_series', 's000.dcm'), join(dir, 'only.dcm'));
    await expectInputError(readVolume(dir), dir, /single DICOM file, not a series/);
  });
});

describe('readVolume: other formats with a wrong magic', () => {
  it('an .nrrd or .mha that is not one names the file and the magic', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-read-'));
    for (const [name, problem] of [
      ['x.nrrd', /not an NRRD file/],
      ['x.mha', /not a MetaImage file/],
      ['x.dcm', /no "DICM" magic/],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, Buffer.alloc(300, 0x41));
      await expectInputError(readVolume(path), path, problem);
    }
  });
});
