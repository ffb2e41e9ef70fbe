import { describe, expect, it } from 'vitest';
import type { Vec3, Volume } from '../volume/index.js';
import { maskTokenGrid } from './seg-mask.js';

/** A mask of `size` (i fastest) with `value` at each listed voxel. */
function mask(size: Vec3, voxels: [number, number, number][], value = 1): Volume {
  const data = new Uint8Array(size[0] * size[1] * size[2]);
  for (const [i, j, k] of voxels) data[i + size[0] * (j + size[1] * k)] = value;
  return {
    data,
    size,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  };
}

const box = (i: [number, number], j: [number, number], k: [number, number]) => {
  const out: [number, number, number][] = [];
  for (let z = k[0]; z < k[1]; z++)
    for (let y = j[0]; y < j[1]; y++) for (let x = i[0]; x < i[1]; x++) out.push([x, y, z]);
  return out;
};

describe('maskTokenGrid', () => {
  it('axial: a known box gives its patch-area fractions [slices, gh, gw] (hand reference)', () => {
    // 8×8 planes, patch 4 → a 2×2 grid; the box covers i 2..5, j 0..1 of slice k = 1, label 2.
    const r = maskTokenGrid(mask([8, 8, 3], box([2, 6], [0, 2], [1, 2]), 2), { axis: 'axial', size: [8, 8] }, 4);
    expect(r.slices).toBe(3);
    // Each top cell holds 2×2 of its 16 pixels; label 2 counts as foreground.
    expect(Array.from(r.data)).toEqual([0, 0, 0, 0, 0.25, 0.25, 0, 0, 0, 0, 0, 0]);
  });

  it('coronal: slices along j with superior at the top, as the image view', () => {
    // The box i 0..3, k 0..3 (inferior half) at j = 1: rows h = 7 - k, the bottom row of cells.
    const r = maskTokenGrid(mask([8, 2, 8], box([0, 4], [1, 2], [0, 4])), { axis: 'coronal', size: [8, 8] }, 4);
    expect(r.slices).toBe(2);
    expect(Array.from(r.data)).toEqual([0, 0, 0, 0, 0, 0, 1, 0]);
  });

  it('resizes nearest (as the view resizes its slices), never blending labels', () => {
    // 16 → 8 samples source 2w + 1: the voxel (1, 1) is one pixel (1/16 of its cell), (0, 0) none.
    const view = { axis: 'axial' as const, size: [8, 8] as [number, number] };
    expect(Array.from(maskTokenGrid(mask([16, 16, 1], [[1, 1, 0]]), view, 4).data)).toEqual([1 / 16, 0, 0, 0]);
    expect(Array.from(maskTokenGrid(mask([16, 16, 1], [[0, 0, 0]]), view, 4).data)).toEqual([0, 0, 0, 0]);
  });

  it('counts only the listed label values when given (PANORAMA: 1 is the lesion, 4 the pancreas)', () => {
    const m = mask([8, 8, 1], box([0, 4], [0, 4], [0, 1]), 1);
    for (const [x, y] of box([4, 8], [0, 8], [0, 1])) m.data[x + 8 * y] = 4;
    const view = { axis: 'axial' as const, size: [8, 8] as [number, number] };
    // Rows run top to bottom as the image view shows them; the lesion is one cell, the pancreas two.
    const all = Array.from(maskTokenGrid(m, view, 4).data);
    const lesion = Array.from(maskTokenGrid(m, view, 4, [1]).data);
    expect(all.filter((x) => x > 0)).toHaveLength(3);
    expect(lesion.filter((x) => x > 0)).toEqual([1]);
    expect(lesion.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
