import type { Affine } from '../volume/geometry.js';
import { appendStep, currentGrid, outputGrid, type SpatialRecord } from '../volume/record.js';

/**
 * Per-slice maps → a volume of heat on the processed (slice) grid. Works for ViTs
 * (CLS→patch attention) and CNNs (class activation maps) alike: both give one value per
 * patch-grid cell per slice, weighted by the slice's pooling weight a_s.
 */

export interface SliceMaps {
  /** [S, gh·gw] row-major per slice. */
  values: Float32Array;
  slices: number;
  grid: [number, number];
}

/**
 * The record extended by the backbone's patch grid: cell (gx, gy) of slice s covers the slice's
 * pixels around ((gx + ½)·W/gw − ½, (gy + ½)·H/gh − ½), as `upsampleSliceMaps` places it. Mapping a
 * [S, gh, gw] map back through this record is bilinear on the patch grid in-plane, like the
 * upsampling, without building the [S, H, W] stack first (a 224² slice holds 1024× the cells of a
 * 7×7 grid).
 */
export function patchGridRecord(record: SpatialRecord, grid: [number, number]): SpatialRecord {
  const slices = currentGrid(record);
  const [W, H, S] = slices.size;
  const [gh, gw] = grid;
  const sx = W / gw;
  const sy = H / gh;
  // biome-ignore format: a 4×4 matrix reads best as rows
  const indexMap: Affine = Float64Array.from([
    sx, 0, 0, (sx - 1) / 2,
    0, sy, 0, (sy - 1) / 2,
    0, 0, 1, 0,
    0, 0, 0, 1,
  ]);
  return appendStep(record, {
    op: 'patch-grid',
    input: slices,
    output: outputGrid(slices, indexMap, [gw, gh, S]),
    indexMap,
    params: { grid },
  });
}

/** Each slice's map multiplied by its weight (a copy). */
export function weightSlices(maps: SliceMaps, sliceWeights: ArrayLike<number>): Float32Array {
  const cells = maps.grid[0] * maps.grid[1];
  const out = new Float32Array(maps.values.length);
  for (let s = 0; s < maps.slices; s++) {
    const w = sliceWeights[s] ?? 0;
    for (let p = s * cells; p < (s + 1) * cells; p++) out[p] = w * maps.values[p]!;
  }
  return out;
}

/**
 * Bilinear upsampling of each slice's patch-grid map to [H, W] with half-pixel centres
 * (align_corners = false, edge-clamped), multiplied by the slice weights; returns [S, H, W].
 */
export function upsampleSliceMaps(
  maps: SliceMaps,
  size: [number, number],
  sliceWeights?: ArrayLike<number>,
): Float32Array {
  const [gh, gw] = maps.grid;
  const [H, W] = size;
  const out = new Float32Array(maps.slices * H * W);
  const ys = axisWeights(gh, H);
  const xs = axisWeights(gw, W);
  for (let s = 0; s < maps.slices; s++) {
    const w = sliceWeights ? (sliceWeights[s] ?? 0) : 1;
    const base = s * gh * gw;
    for (let y = 0; y < H; y++) {
      const { i0: y0, i1: y1, t: ty } = ys[y]!;
      for (let x = 0; x < W; x++) {
        const { i0: x0, i1: x1, t: tx } = xs[x]!;
        const v00 = maps.values[base + y0 * gw + x0]!;
        const v01 = maps.values[base + y0 * gw + x1]!;
        const v10 = maps.values[base + y1 * gw + x0]!;
        const v11 = maps.values[base + y1 * gw + x1]!;
        const top = v00 + (v01 - v00) * tx;
        const bottom = v10 + (v11 - v10) * tx;
        out[(s * H + y) * W + x] = w * (top + (bottom - top) * ty);
      }
    }
  }
  return out;
}

function axisWeights(inSize: number, outSize: number): { i0: number; i1: number; t: number }[] {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const src = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inSize - 1);
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return { i0, i1, t: src - i0 };
  });
}

/**
 * Class activation map for a CNN plugin: the logit's contribution of each (slice, cell).
 * With v = Σ_s a_s·mean_p F[s,p,:] and logit = w·v + b, cell (s,p) contributes a_s·F[s,p,:]·w / P,
 * so the map sums exactly to logit − b.
 */
export function classActivationMaps(
  features: Float32Array,
  slices: number,
  grid: [number, number],
  channels: number,
  headWeight: ArrayLike<number>,
  sliceWeights: ArrayLike<number>,
): SliceMaps {
  const P = grid[0] * grid[1];
  const values = new Float32Array(slices * P);
  for (let s = 0; s < slices; s++) {
    const a = sliceWeights[s] ?? 0;
    for (let p = 0; p < P; p++) {
      let dot = 0;
      const off = (s * P + p) * channels;
      for (let c = 0; c < channels; c++) dot += features[off + c]! * (headWeight[c] ?? 0);
      values[s * P + p] = (a * dot) / P;
    }
  }
  return { values, slices, grid };
}
