import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { niftiGeometry } from './nifti-geometry.js';
import { parseNiftiHeader } from './nifti-header.js';
import { encodeNiftiHeader } from './nifti-write.js';
import type { Volume } from './types.js';

/** Row-major 3×3 rotation about one axis. */
function turn(axis: 0 | 1 | 2, degrees: number): number[] {
  const t = (degrees * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  const m = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const [p, q] = [0, 1, 2].filter((k) => k !== axis) as [number, number];
  m[p * 3 + p] = c;
  m[p * 3 + q] = -s;
  m[q * 3 + p] = s;
  m[q * 3 + q] = c;
  return m;
}

const times = (a: number[], b: number[]) =>
  Array.from({ length: 9 }, (_, i) =>
    [0, 1, 2].reduce((sum, k) => sum + a[Math.floor(i / 3) * 3 + k]! * b[k * 3 + (i % 3)]!, 0),
  );

function volumeWith(direction: number[]): Volume {
  return {
    size: [5, 4, 3],
    spacing: [0.7, 1.3, 2.5],
    origin: [-101.5, 23.25, 48],
    direction: new Float64Array(direction),
    data: new Float32Array(60),
  };
}

describe('encodeNiftiHeader', () => {
  const random = new Random(11);
  const directions: Record<string, number[]> = {
    identity: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    'RAS stored (x, y flipped)': [-1, 0, 0, 0, -1, 0, 0, 0, 1],
    'left-handed (k flipped)': [1, 0, 0, 0, 1, 0, 0, 0, -1],
    '180° about i': turn(0, 180),
    '180° about j': turn(1, 180),
    '180° about k, left-handed': times(turn(2, 180), [1, 0, 0, 0, 1, 0, 0, 0, -1]),
    'axes permuted (coronal acquisition)': [1, 0, 0, 0, 0, 1, 0, -1, 0],
  };
  for (let n = 0; n < 6; n++)
    directions[`oblique ${n}`] = times(
      times(turn(0, random.uniform(-180, 180)), turn(1, random.uniform(-180, 180))),
      turn(2, random.uniform(-180, 180)),
    );

  for (const [name, direction] of Object.entries(directions)) {
    it(`${name}: qform alone and sform alone each give back the grid`, () => {
      const v = volumeWith(direction);
      const info = parseNiftiHeader('x.nii', encodeNiftiHeader('x.nii', v));
      expect(info.dims).toEqual([5, 4, 3]);
      expect(info.datatype).toBe(16);
      expect(info.voxOffset).toBe(352);
      expect([info.qformCode, info.sformCode]).toEqual([1, 1]);
      for (const only of [
        { ...info, sformCode: 0 },
        { ...info, qformCode: 0 },
      ]) {
        const g = niftiGeometry(only);
        expect(g).not.toBeNull();
        for (let k = 0; k < 3; k++) {
          expect(g!.spacing[k]!).toBeCloseTo(v.spacing[k]!, 5);
          expect(g!.origin[k]!).toBeCloseTo(v.origin[k]!, 4);
        }
        for (let k = 0; k < 9; k++) expect(g!.direction[k]!).toBeCloseTo(direction[k]!, 6);
      }
    });
  }

  it('refuses a size NIfTI-1 cannot hold, naming the file', () => {
    const v: Volume = { ...volumeWith(directions.identity!), size: [40_000, 1, 1], data: new Float32Array(40_000) };
    expect(() => encodeNiftiHeader('big.nii', v)).toThrow(/big\.nii.*32767/);
  });
});
