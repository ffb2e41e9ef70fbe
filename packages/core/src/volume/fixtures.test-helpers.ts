import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { affineRAS, affineRows } from './geometry.js';
import type { Volume } from './types.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/volume/', import.meta.url));
export const SHARED_DATA = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));

export interface Reference {
  shape: number[];
  dtype?: string;
  affineRAS?: number[][];
  sum: number;
  sumsq: number;
  min: number;
  max: number;
  samples: number[][];
  positions?: number[][];
  position?: number[];
  iop?: number[];
  pixelSpacing?: number[];
  description?: string;
}

/** nibabel's / pydicom's view of each fixture, written by fixtures/make_volumes.py. */
export const REFERENCE = JSON.parse(readFileSync(`${FIXTURES}reference.json`, 'utf8')) as Record<string, Reference>;

/** Voxels equal the reference: checksums, extremes and sampled voxels at (i,j,k). */
export function expectVoxels(v: Volume, ref: Reference): void {
  expect([...v.size]).toEqual(ref.shape.slice(0, 3));
  let sum = 0;
  let sumsq = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < v.data.length; i++) {
    const x = Number(v.data[i]);
    sum += x;
    sumsq += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  expect(sum).toBeCloseTo(ref.sum, 0);
  expect(sumsq / ref.sumsq).toBeCloseTo(1, 9);
  expect(min).toBeCloseTo(ref.min, 4);
  expect(max).toBeCloseTo(ref.max, 4);
  const [nx, ny] = v.size;
  for (const [i, j, k, value] of ref.samples) expect(Number(v.data[i! + nx * (j! + ny * k!)])).toBeCloseTo(value!, 4);
}

export function expectAffine(v: Volume, ras: number[][], digits = 4): void {
  const got = affineRows(affineRAS(v));
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(got[r]![c]!).toBeCloseTo(ras[r]![c]!, digits);
}
