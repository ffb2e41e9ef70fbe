import { describe, expect, it } from 'vitest';
import { volumeSlices } from './outputs.js';

/** A 5×4×3 volume whose voxel (i, j, k) holds 100·i + 10·j + k, so every tile pixel says where it came from. */
const size: [number, number, number] = [5, 4, 3];
const data = new Float32Array(5 * 4 * 3);
for (let k = 0; k < 3; k++)
  for (let j = 0; j < 4; j++) for (let i = 0; i < 5; i++) data[i + 5 * (j + 4 * k)] = 100 * i + 10 * j + k;
const volume = {
  data,
  size,
  spacing: [1, 1, 1] as [number, number, number],
  origin: [0, 0, 0] as [number, number, number],
  direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
};

describe('volumeSlices', () => {
  it('lays axial tiles out as (i across, j down), coronal as (i, k upwards), sagittal as (j, k upwards)', () => {
    const at = (axis: 0 | 1 | 2, only: number[]) => volumeSlices(volume, axis, 0, 1000, only);
    const axial = at(2, [2]);
    expect([axial.width, axial.height]).toEqual([5, 4]);
    for (let h = 0; h < 4; h++)
      for (let w = 0; w < 5; w++) expect(axial.data[h * 5 + w]! * 1000).toBeCloseTo(100 * w + 10 * h + 2, 3);
    const coronal = at(1, [3, 1]);
    expect([coronal.slices, coronal.width, coronal.height]).toEqual([2, 5, 3]);
    for (const [s, j] of [
      [0, 3],
      [1, 1],
    ] as const)
      for (let h = 0; h < 3; h++)
        for (let w = 0; w < 5; w++)
          expect(coronal.data[(s * 3 + h) * 5 + w]! * 1000).toBeCloseTo(100 * w + 10 * j + (2 - h), 3);
    const sagittal = at(0, [4]);
    expect([sagittal.width, sagittal.height]).toEqual([4, 3]);
    for (let h = 0; h < 3; h++)
      for (let w = 0; w < 4; w++) expect(sagittal.data[h * 4 + w]! * 1000).toBeCloseTo(400 + 10 * w + (2 - h), 3);
  });

  it('windows values to [0, 1], clamping outside the window', () => {
    const tile = volumeSlices(volume, 2, 100, 200, [0]);
    expect(tile.data[0]).toBe(0); // (0, 0, 0) = 0, below the window
    expect(tile.data[1]).toBe(0); // (1, 0, 0) = 100, its bottom
    expect(tile.data[2]).toBe(1); // (2, 0, 0) = 200, its top
    expect(tile.data[5 + 1]).toBeCloseTo(0.1, 6); // (1, 1, 0) = 110
    expect(tile.data[5 + 4]).toBe(1); // (4, 1, 0) = 410, above
  });
});
