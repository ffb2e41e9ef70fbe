import { type AxisSampling, axisSampling } from './axis-sampling.js';
import type { Affine } from './geometry.js';
import type { Vec3 } from './types.js';

/** For each source axis s: the current-grid axis it moves along, and current = scale·s + offset. */
export interface AxisAlignedMap {
  axis: Vec3;
  scale: Vec3;
  offset: Vec3;
}

/**
 * The source → current index map as one scaled axis per source axis, or null when the map
 * mixes axes (a rotation in index space). Reorientation, resampling, crop/pad and slice views
 * are all of this kind; only an oblique step would not be.
 */
export function axisAligned(toCurrent: Affine): AxisAlignedMap | null {
  const axis: number[] = [-1, -1, -1];
  const scale: number[] = [0, 0, 0];
  const offset: number[] = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const row = [0, 1, 2].map((s) => toCurrent[a * 4 + s]!);
    const largest = Math.max(...row.map(Math.abs));
    const nonzero = row.flatMap((v, s) => (Math.abs(v) > 1e-12 * largest ? [s] : []));
    if (nonzero.length !== 1 || axis[nonzero[0]!] !== -1) return null;
    const s = nonzero[0]!;
    axis[s] = a;
    scale[s] = row[s]!;
    offset[s] = toCurrent[a * 4 + 3]!;
  }
  return { axis: axis as Vec3, scale: scale as Vec3, offset: offset as Vec3 };
}

/** One map's share of a weighted sum on the source grid, produced one source plane (fixed k) at a time. */
export interface PlaneSource {
  /** acc[i + S0·j] += this map's weighted value at source voxel (i, j, k). */
  addPlane(k: number, acc: Float32Array): void;
  /**
   * Plane k as wa·A + wb·B (weight included) when the map covers all of it, else null: a sum of
   * several maps then reads them all in one pass over the plane (`sumPlanesToSource`).
   */
  blendAt?(k: number): PlaneBlend | null;
}

/** A source plane as wa·A + wb·B, A and B planes of the source's size (valid until the next call). */
export interface PlaneBlend {
  A: Float32Array;
  B: Float32Array;
  wa: number;
  wb: number;
}

/** The first and one-past-last source index whose position lies inside (positions move linearly, so inside is one run). */
function insideRun(t: AxisSampling): [number, number] {
  const first = t.inside.indexOf(1);
  return first < 0 ? [0, 0] : [first, t.inside.lastIndexOf(1) + 1];
}

/**
 * weight · (values brought onto the source grid), plane by plane, for an axis-aligned map:
 * trilinear (or nearest) interpolation is then separable, so each source plane k is a blend of
 * two planes of the current grid, each upsampled once along y then x and cached (consecutive k
 * mostly reuse them, since lo/hi move monotonically). One multiply-add per source voxel instead
 * of an 8-neighbour gather, and two source-sized planes of memory. The values of the per-voxel
 * `trilinear` / `nearest` to float32 rounding: interpolated in float64, the planes and the sum
 * kept in float32, as the output is.
 */
export function axisAlignedPlanes(
  sourceSize: Vec3,
  values: ArrayLike<number>,
  size: Vec3,
  map: AxisAlignedMap,
  weight: number,
  fill: number,
  linear: boolean,
): PlaneSource {
  const [S0, S1] = sourceSize;
  const stride = [1, size[0], size[0] * size[1]];
  const [sx, sy, sz] = map.axis.map((a) => stride[a]!) as Vec3;
  const [tx, ty, tz] = [0, 1, 2].map((s) =>
    axisSampling(sourceSize[s]!, size[map.axis[s]!]!, map.scale[s]!, map.offset[s]!, linear ? 'linear' : 'nearest'),
  ) as [AxisSampling, AxisSampling, AxisSampling];
  const [i0, i1] = insideRun(tx);
  const [j0, j1] = insideRun(ty);
  const m0 = size[map.axis[0]]!;
  const row = new Float64Array(m0);
  const filled = weight * fill;
  const cache: { u: number; plane: Float32Array }[] = [
    { u: -1, plane: new Float32Array(S0 * S1) },
    { u: -1, plane: new Float32Array(S0 * S1) },
  ];
  const planeOf = (u: number, keep: number): Float32Array => {
    const hit = cache.find((c) => c.u === u);
    if (hit) return hit.plane;
    const slot = cache[0]!.u === keep ? cache[1]! : cache[0]!;
    slot.u = u;
    const plane = slot.plane;
    for (let j = j0; j < j1; j++) {
      const a = u * sz + ty.lo[j]! * sy;
      const b = u * sz + ty.hi[j]! * sy;
      const fy = ty.w[j]!;
      for (let q = 0; q < m0; q++) row[q] = values[a + q * sx]! * (1 - fy) + values[b + q * sx]! * fy;
      const base = j * S0;
      for (let i = i0; i < i1; i++) {
        const fx = tx.w[i]!;
        plane[base + i] = row[tx.lo[i]!]! * (1 - fx) + row[tx.hi[i]!]! * fx;
      }
    }
    return plane;
  };

  const whole = i0 === 0 && i1 === S0 && j0 === 0 && j1 === S1;
  return {
    blendAt(k) {
      if (!whole || !tz.inside[k]) return null;
      return {
        A: planeOf(tz.lo[k]!, tz.hi[k]!),
        B: planeOf(tz.hi[k]!, tz.lo[k]!),
        wa: weight * (1 - tz.w[k]!),
        wb: weight * tz.w[k]!,
      };
    },
    addPlane(k, acc) {
      if (!tz.inside[k]) {
        if (filled !== 0) for (let p = 0; p < S0 * S1; p++) acc[p] = acc[p]! + filled;
        return;
      }
      const A = planeOf(tz.lo[k]!, tz.hi[k]!);
      const B = planeOf(tz.hi[k]!, tz.lo[k]!);
      const wa = weight * (1 - tz.w[k]!);
      const wb = weight * tz.w[k]!;
      for (let j = 0; j < S1; j++) {
        const base = j * S0;
        const [from, to] = j >= j0 && j < j1 ? [i0, i1] : [0, 0];
        if (filled !== 0) {
          for (let i = 0; i < from; i++) acc[base + i] = acc[base + i]! + filled;
          for (let i = Math.max(from, to); i < S0; i++) acc[base + i] = acc[base + i]! + filled;
          if (to === 0) continue;
        }
        for (let i = from; i < to; i++) acc[base + i] = acc[base + i]! + A[base + i]! * wa + B[base + i]! * wb;
      }
    },
  };
}
