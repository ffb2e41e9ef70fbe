import { describe, expect, it } from 'vitest';
import { InputError } from '../util/errors.js';
import { toHounsfield } from './hounsfield.js';
import type { Volume } from './types.js';

/** 2^19 voxels: the percentile's sample then takes every second one (the even indices). */
function volumeOf(value: (i: number) => number): Volume {
  const data = Int16Array.from({ length: 1 << 19 }, (_, i) => value(i));
  return {
    size: [128, 64, 64],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
    data,
  };
}

describe('toHounsfield', () => {
  it('keeps HU voxels as they are, whatever rescale is offered', () => {
    const ct = volumeOf((i) => (i % 10 === 0 ? -1000 : 40));
    const { volume, applied } = toHounsfield(ct, 'ct.nii.gz', { slope: 1, intercept: -1024 });
    expect(applied).toEqual({ slope: 1, intercept: 0 });
    expect(volume.data).toBe(ct.data);
  });

  it('rescales raw voxels with the metadata, and refuses raw voxels without it', () => {
    const raw = volumeOf((i) => (i % 10 === 0 ? 24 : 1064));
    const { volume, applied } = toHounsfield(raw, 'raw.nii.gz', { slope: 1, intercept: -1024 });
    expect(applied).toEqual({ slope: 1, intercept: -1024 });
    expect(volume.data).toBeInstanceOf(Float32Array);
    expect([volume.data[0], volume.data[1]]).toEqual([-1000, 40]);
    expect(() => toHounsfield(raw, 'raw.nii.gz')).toThrow(/raw\.nii\.gz.*no RescaleSlope/);
  });

  it('decides "raw" on the exact minimum, not a sample: a few negative voxels the sample skips are refused', () => {
    // No air, and −100 at three odd indices, which the percentile's sample never reads: read as raw
    // and rescaled, these HU-like voxels would be corrupted (CT-CLIP#50).
    const odd = volumeOf((i) => (i === 1001 || i === 70_001 || i === 300_001 ? -100 : 30 + (i % 50)));
    const error = (() => {
      try {
        toHounsfield(odd, 'odd.nii.gz', { slope: 1, intercept: -1024 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/odd\.nii\.gz.*cannot tell whether voxels are Hounsfield units.*min -100/);
  });
});
