import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertSameArray } from '../testing/arrays.js';
import { Random } from '../util/random.js';
import { FIXTURES } from '../volume/fixtures.test-helpers.js';
import { readVolume } from '../volume/read.js';
import type { Volume } from '../volume/types.js';
import { type AugmentConfig, augment3d, NNUNET_AUGMENT } from './augment.js';
import { gaussianBlur } from './intensity.js';
import { spatialIndexMap, warp } from './spatial.js';

const OFF: AugmentConfig = {
  flip: 0,
  rotation: { p: 0, maxDegrees: [0, 0, 0] },
  scaling: { p: 0, range: [1, 1] },
  noise: { p: 0, variance: [0, 0] },
  blur: { p: 0, sigma: [0, 0] },
  brightness: { p: 0, range: [1, 1] },
  contrast: { p: 0, range: [1, 1] },
  lowResolution: { p: 0, zoom: [1, 1] },
  gamma: { p: 0, range: [1, 1] },
};

async function pair(): Promise<{ image: Volume; mask: Volume }> {
  const image = (await readVolume(join(FIXTURES, 'oblique_int16.nii.gz'))).volume;
  const mask = (await readVolume(join(FIXTURES, 'oblique_mask.nii.gz'))).volume;
  return { image, mask };
}

describe('augment3d', () => {
  it('is reproducible from the seed and differs across seeds', async () => {
    const { image, mask } = await pair();
    const config = {
      ...NNUNET_AUGMENT,
      rotation: { p: 1, maxDegrees: [30, 30, 30] as [number, number, number] },
      noise: { p: 1, variance: [0, 0.1] as [number, number] },
    };
    const a = augment3d(image, mask, new Random(7), config);
    const b = augment3d(image, mask, new Random(7), config);
    const c = augment3d(image, mask, new Random(8), config);
    assertSameArray(a.image.data, b.image.data);
    assertSameArray(a.mask!.data, b.mask!.data);
    expect(a.applied).toEqual(b.applied);
    expect(a.image.data).not.toEqual(c.image.data);
    expect(a.image.size).toEqual(image.size);
    expect(a.image.origin).toEqual(image.origin);
    expect(a.mask!.data).toBeInstanceOf(Uint8Array);
  });

  it('moves image and mask by the same spatial transform', async () => {
    const { mask } = await pair();
    const asImage: Volume = { ...mask, data: Float32Array.from(mask.data) };
    const config: AugmentConfig = {
      ...OFF,
      flip: 0.5,
      rotation: { p: 1, maxDegrees: [25, 25, 25] },
      scaling: { p: 1, range: [0.8, 1.2] },
    };
    for (let seed = 0; seed < 4; seed++) {
      const out = augment3d(asImage, mask, new Random(seed), config);
      let agree = 0;
      let inside = 0;
      for (let i = 0; i < mask.data.length; i++) {
        if (out.mask!.data[i]) inside++;
        if ((out.image.data[i]! >= 0.5 ? 1 : 0) === out.mask!.data[i]) agree++;
      }
      expect(inside).toBeGreaterThan(50);
      expect(agree / mask.data.length).toBeGreaterThan(0.98);
    }
    const flipped = augment3d(asImage, mask, new Random(1), { ...OFF, flip: 1 });
    expect(Array.from(flipped.image.data)).toEqual(Array.from(flipped.mask!.data));
    expect(flipped.mask!.data[0]).toBe(mask.data[mask.data.length - 1]);
  });

  it('a 90° rotation about z of an isotropic cube is an exact index permutation', () => {
    const n = 5;
    const data = Float32Array.from({ length: n ** 3 }, (_, i) => i);
    const v: Volume = {
      data,
      size: [n, n, n],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    };
    const map = spatialIndexMap(v.size, v.spacing, {
      rotation: [0, 0, Math.PI / 2],
      scale: 1,
      flip: [false, false, false],
    });
    const out = warp(v, map, 'linear');
    // Content rotated by +90° about z: output (i, j) shows input (j, n-1-i).
    for (let k = 0; k < n; k++)
      for (let j = 0; j < n; j++)
        for (let i = 0; i < n; i++)
          expect(out[i + n * (j + n * k)]!).toBeCloseTo(data[j + n * (n - 1 - i + n * k)]!, 4);
  });

  it('intensity changes do what they say', async () => {
    const { image } = await pair();
    const base = Float32Array.from(image.data);
    const bright = augment3d(image, undefined, new Random(3), { ...OFF, brightness: { p: 1, range: [1.2, 1.2] } });
    expect(bright.image.data[100]).toBeCloseTo(base[100]! * 1.2, 3);
    const gamma = augment3d(image, undefined, new Random(3), { ...OFF, gamma: { p: 1, range: [1.4, 1.4] } });
    expect(Math.min(...gamma.image.data)).toBeCloseTo(Math.min(...base), 2);
    expect(Math.max(...gamma.image.data)).toBeCloseTo(Math.max(...base), 2);
    const noisy = augment3d(image, undefined, new Random(3), { ...OFF, noise: { p: 1, variance: [4, 4] } });
    let s2 = 0;
    for (let i = 0; i < base.length; i++) s2 += (noisy.image.data[i]! - base[i]!) ** 2;
    expect(Math.sqrt(s2 / base.length)).toBeCloseTo(2, 0);
    const low = augment3d(image, undefined, new Random(3), { ...OFF, lowResolution: { p: 1, zoom: [0.5, 0.5] } });
    expect(low.applied.lowResolutionZoom).toBe(0.5);
    expect(low.image.data).not.toEqual(base);
  });

  it('blur keeps a constant field constant and the sum of an impulse', () => {
    const size: [number, number, number] = [9, 9, 9];
    const impulse = new Float32Array(729);
    impulse[4 + 9 * (4 + 9 * 4)] = 1;
    gaussianBlur(impulse, size, [1, 1, 1]);
    expect(impulse.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(impulse[4 + 9 * (4 + 9 * 4)]!).toBeCloseTo((1 / Math.sqrt(2 * Math.PI)) ** 3, 2);
    const flat = new Float32Array(729).fill(3);
    gaussianBlur(flat, size, [0.7, 1.3, 0.5]);
    for (const v of flat) expect(v).toBeCloseTo(3, 5);
  });
});
