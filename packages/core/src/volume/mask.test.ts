import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../util/errors.js';
import { FIXTURES } from './fixtures.test-helpers.js';
import { checkMaskGeometry, readMask } from './mask.js';
import { readVolume } from './read.js';

describe('masks', () => {
  it('a mask on the image grid is accepted', async () => {
    const { volume: image } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
    const mask = await readMask(join(FIXTURES, 'oblique_mask.nii.gz'), image);
    expect(mask.data).toBeInstanceOf(Uint8Array);
  });

  it('a shifted origin is a clear error, not a silent resample', async () => {
    const { volume: image } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
    const path = join(FIXTURES, 'mask_shifted.nii.gz');
    const error = await readMask(path, image).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).source).toBe(path);
    expect((error as InputError).problem).toMatch(/mask origin .* differs from the image's/);
  });

  it('size, spacing and direction mismatches name the field', async () => {
    const { volume: image } = await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'));
    expect(() => checkMaskGeometry('m', { ...image, size: [20, 24, 15] }, image)).toThrow(/mask size/);
    expect(() => checkMaskGeometry('m', { ...image, spacing: [0.8, 0.7, 2.5002] }, image)).toThrow(/mask spacing/);
    const direction = new Float64Array(image.direction);
    direction[0]! += 2e-4;
    expect(() => checkMaskGeometry('m', { ...image, direction }, image)).toThrow(/mask direction/);
    expect(() => checkMaskGeometry('m', { ...image, spacing: [0.8, 0.7, 2.50005] }, image)).not.toThrow();
  });
});
