import { type Affine, identityAffine, indexToWorldAffine, invertAffine, multiplyAffine } from './geometry.js';
import {
  type AxisAlignedMap,
  axisAligned,
  axisAlignedPlanes,
  type PlaneBlend,
  type PlaneSource,
} from './map-axis-aligned.js';
import { type Grid, gridOf, type Vec3, type Volume, type VoxelArray, voxelCount } from './types.js';

/**
 * One spatial preprocessing step: the grid it read, the grid it produced, and how an index on
 * the output grid maps to an index on the input grid (a 4×4 affine, row-major). Every step here
 * (reorientation, resampling, crop/pad, slice views) is affine in index space, so a chain of
 * steps composes into one affine and any result can be mapped back onto the input's voxel grid.
 */
export interface SpatialStep {
  op: 'reorient' | 'resample' | 'crop-pad' | 'slices' | 'patch-grid';
  input: Grid;
  output: Grid;
  /** output index (i,j,k,1) → input index */
  indexMap: Affine;
  params: Record<string, unknown>;
}

/** The steps from the source grid (what was read) to the current grid, oldest first. */
export interface SpatialRecord {
  source: Grid;
  steps: SpatialStep[];
}

/** A preprocessed volume together with the record of how it relates to what was read. */
export interface Processed {
  volume: Volume;
  record: SpatialRecord;
}

/** Accepts a plain volume (its own source) or a previous step's result. */
export function asProcessed(input: Volume | Processed): Processed {
  if ('record' in input && 'volume' in input) return input;
  return { volume: input, record: { source: gridOf(input), steps: [] } };
}

/** The current grid of a record (the source grid when no step was taken). */
export function currentGrid(record: SpatialRecord): Grid {
  return record.steps.length ? record.steps[record.steps.length - 1]!.output : record.source;
}

/**
 * The grid an index map produces: output index → world is the input's index → world composed with
 * the map, so the output's spacing, direction and origin follow (world positions are preserved).
 */
export function outputGrid(input: Grid, indexMap: Affine, size: Vec3): Grid {
  const m = multiplyAffine(indexToWorldAffine(input), indexMap);
  const spacing = [0, 1, 2].map((c) => Math.hypot(m[c]!, m[4 + c]!, m[8 + c]!)) as Vec3;
  const direction = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction[r * 3 + c] = m[r * 4 + c]! / spacing[c]!;
  return { size, spacing, origin: [m[3]!, m[7]!, m[11]!], direction };
}

export function appendStep(record: SpatialRecord, step: SpatialStep): SpatialRecord {
  return { source: record.source, steps: [...record.steps, step] };
}

/** Current index → source index, the composition of every step's map. */
export function toSourceIndexMap(record: SpatialRecord): Affine {
  let m = identityAffine();
  for (const step of record.steps) m = multiplyAffine(m, step.indexMap);
  return m;
}

export interface MapBackOptions {
  /** 'nearest' for labels, 'linear' (trilinear) for heatmaps and images. */
  interpolation?: 'nearest' | 'linear';
  /** Value for source voxels that fall outside the processed grid (default 0). */
  fill?: number;
  /**
   * `mapSumToSource` only: sees (and may change) each finished source plane k, in order, before it
   * is stored — statistics in the same sweep instead of more passes over a CT-sized result.
   */
  eachPlane?: (k: number, plane: Float32Array) => void;
}

/**
 * Maps values on the record's current grid (e.g. a heatmap over resized slices, laid out i
 * fastest as that grid) back onto the source grid, returning a volume with the source's exact
 * geometry. Source voxels outside the processed field of view get `fill`.
 */
export function mapToSource(values: ArrayLike<number>, record: SpatialRecord, options: MapBackOptions = {}): Volume {
  return mapSumToSource([{ values, record, weight: 1 }], options);
}

/** One map of a weighted sum on the source grid: values on its record's current grid, and its weight. */
export interface WeightedMap {
  values: ArrayLike<number>;
  record: SpatialRecord;
  weight: number;
}

/**
 * Σ weight · (each map brought back as `mapToSource` brings it) on the maps' common source grid,
 * into one output array however many maps (a heatmap of three views of a 512×512×300 CT needs
 * 315 MB instead of four times that). Source voxels outside a map's field of view take `fill`
 * for that map. Axis-aligned maps (every step the project has) are interpolated separably
 * (map-axis-aligned.ts); any other map by a trilinear gather at every source voxel.
 */
export function mapSumToSource(maps: readonly WeightedMap[], options: MapBackOptions = {}): Volume {
  const src = sumSourceGrid(maps);
  const out = new Float32Array(voxelCount(src.size));
  sumPlanesToSource(maps, out, 0, src.size[2], options);
  return { ...gridOf(src), data: out };
}

/** The source grid a weighted sum lies on, once every map is checked to come from it with the values its grid holds. */
export function sumSourceGrid(maps: readonly WeightedMap[]): Grid {
  if (maps.length === 0) throw new RangeError('mapSumToSource: no maps');
  const src = maps[0]!.record.source;
  maps.forEach((m, v) => {
    if (m.record.source.size.join() !== src.size.join())
      throw new RangeError(
        `mapSumToSource: map ${v} comes from a ${m.record.source.size.join('×')} grid, not ${src.size.join('×')}`,
      );
    const grid = currentGrid(m.record);
    if (m.values.length !== voxelCount(grid.size))
      throw new RangeError(`map ${v}: ${m.values.length} values for a ${grid.size.join('×')} grid`);
  });
  return src;
}

/**
 * `mapSumToSource`'s planes k in [from, to) written into `out` (laid out as the whole source
 * grid), so that workers sharing one output each take a range of planes.
 */
export function sumPlanesToSource(
  maps: readonly WeightedMap[],
  out: Float32Array,
  from: number,
  to: number,
  options: MapBackOptions = {},
): void {
  const src = sumSourceGrid(maps);
  if (out.length !== voxelCount(src.size))
    throw new RangeError(`mapSumToSource: an output of ${out.length} values for a ${src.size.join('×')} grid`);
  const fill = options.fill ?? 0;
  const linear = (options.interpolation ?? 'linear') === 'linear';
  const sources: PlaneSource[] = [];
  const swept: SweptMap[] = [];
  for (const m of maps) {
    const toCurrent = invertAffine(toSourceIndexMap(m.record));
    const size = currentGrid(m.record).size;
    const aligned = axisAligned(toCurrent);
    if (aligned) sources.push(axisAlignedPlanes(src.size, m.values, size, aligned, m.weight, fill, linear));
    else swept.push({ values: m.values, size, weight: m.weight, toCurrent });
  }
  if (swept.length > 0) sources.push(sweptPlanes(src.size, swept, fill, linear));
  // Summed one source plane at a time in a plane that stays in cache: the 315 MB output of a CT is
  // written once, not read and written again for every map. Float32, as the output is: the sum
  // of a few maps loses nothing that storing it would keep, and the planes a CT's sweep streams
  // through (per view: the plane, two upsampled ones) take half the memory traffic of float64.
  const [S0, S1] = src.size;
  const acc = new Float32Array(S0 * S1);
  for (let k = from; k < to; k++) {
    const blends = sources.map((source) => source.blendAt?.(k) ?? null);
    if (blends.every((b) => b !== null)) sumBlends(blends as PlaneBlend[], acc);
    else {
      acc.fill(0);
      for (const source of sources) source.addPlane(k, acc);
    }
    options.eachPlane?.(k, acc);
    out.set(acc, k * S0 * S1);
  }
}

/**
 * acc = Σ wa·A + wb·B over the blends, up to three per pass over the plane: one store per voxel
 * instead of a clear and a read-modify-write per map (a CT's three MobileNet views, two workers:
 * the sweep 0.53–0.58 s against 0.65–0.89 s, interleaved runs of bench/ct-end-to-end).
 */
function sumBlends(blends: readonly PlaneBlend[], acc: Float32Array): void {
  for (let s = 0; s < blends.length; s += 3) {
    const add = s > 0;
    const [b0, b1, b2] = [blends[s]!, blends[s + 1], blends[s + 2]];
    if (b2 && b1) blend3(acc, add, b0, b1, b2);
    else if (b1) blend2(acc, add, b0, b1);
    else blend1(acc, add, b0);
  }
}

function blend1(acc: Float32Array, add: boolean, b: PlaneBlend): void {
  const { A, B, wa, wb } = b;
  if (add) for (let p = 0; p < acc.length; p++) acc[p] = acc[p]! + A[p]! * wa + B[p]! * wb;
  else for (let p = 0; p < acc.length; p++) acc[p] = A[p]! * wa + B[p]! * wb;
}

function blend2(acc: Float32Array, add: boolean, b0: PlaneBlend, b1: PlaneBlend): void {
  const [A0, B0, a0, c0] = [b0.A, b0.B, b0.wa, b0.wb];
  const [A1, B1, a1, c1] = [b1.A, b1.B, b1.wa, b1.wb];
  const n = acc.length;
  if (add) for (let p = 0; p < n; p++) acc[p] = acc[p]! + A0[p]! * a0 + B0[p]! * c0 + A1[p]! * a1 + B1[p]! * c1;
  else for (let p = 0; p < n; p++) acc[p] = A0[p]! * a0 + B0[p]! * c0 + A1[p]! * a1 + B1[p]! * c1;
}

function blend3(acc: Float32Array, add: boolean, b0: PlaneBlend, b1: PlaneBlend, b2: PlaneBlend): void {
  const [A0, B0, a0, c0] = [b0.A, b0.B, b0.wa, b0.wb];
  const [A1, B1, a1, c1] = [b1.A, b1.B, b1.wa, b1.wb];
  const [A2, B2, a2, c2] = [b2.A, b2.B, b2.wa, b2.wb];
  const n = acc.length;
  if (add)
    for (let p = 0; p < n; p++)
      acc[p] = acc[p]! + A0[p]! * a0 + B0[p]! * c0 + A1[p]! * a1 + B1[p]! * c1 + A2[p]! * a2 + B2[p]! * c2;
  else
    for (let p = 0; p < n; p++)
      acc[p] = A0[p]! * a0 + B0[p]! * c0 + A1[p]! * a1 + B1[p]! * c1 + A2[p]! * a2 + B2[p]! * c2;
}

/**
 * mapSlicesToSource for an axis-aligned map: the source axes are renamed so that `axis` is the
 * plane axis of `axisAlignedPlanes`, which then makes each wanted slice as one separable plane
 * (a CT montage's 12 slices: 0.10 s instead of 0.21 s of trilinear gathers; same values to float32
 * rounding).
 */
function slicesAxisAligned(
  q: SweptMap,
  map: AxisAlignedMap,
  source: Vec3,
  axis: 0 | 1 | 2,
  indices: readonly number[],
  out: { size: Vec3; data: Float32Array },
  fill: number,
  linear: boolean,
): void {
  const order = (axis === 2 ? [0, 1, 2] : axis === 1 ? [0, 2, 1] : [1, 2, 0]) as Vec3;
  const pick = (v: Vec3) => order.map((a) => v[a]!) as Vec3;
  const renamed: AxisAlignedMap = { axis: pick(map.axis), scale: pick(map.scale), offset: pick(map.offset) };
  const [U, V] = [source[order[0]]!, source[order[1]]!];
  const planes = axisAlignedPlanes(pick(source), q.values, q.size, renamed, 1, fill, linear);
  const stride = [1, out.size[0], out.size[0] * out.size[1]];
  const [su, sv] = [stride[order[0]]!, stride[order[1]]!];
  const acc = new Float32Array(U * V);
  indices.forEach((index, s) => {
    acc.fill(0);
    planes.addPlane(index, acc);
    for (let v = 0; v < V; v++)
      for (let u = 0, base = s * stride[axis]! + v * sv; u < U; u++) out.data[base + u * su] = acc[u + U * v]!;
  });
}

interface SweptMap {
  values: ArrayLike<number>;
  size: Vec3;
  weight: number;
  toCurrent: Affine;
}

/** One map's value at source index (i, j, k): `fill` outside its field of view, else interpolated. */
function valueAt(q: SweptMap, i: number, j: number, k: number, fill: number, linear: boolean): number {
  const m = q.toCurrent;
  const [nx, ny, nz] = q.size;
  const x = m[0]! * i + m[1]! * j + m[2]! * k + m[3]!;
  const y = m[4]! * i + m[5]! * j + m[6]! * k + m[7]!;
  const z = m[8]! * i + m[9]! * j + m[10]! * k + m[11]!;
  if (x < -0.5 || y < -0.5 || z < -0.5 || x > nx - 0.5 || y > ny - 0.5 || z > nz - 0.5) return fill;
  return linear ? trilinear(q.values, q.size, x, y, z) : nearest(q.values, q.size, x, y, z);
}

/** Σ weight · map for maps that mix axes, by interpolating each map at every source voxel of the plane. */
function sweptPlanes(sourceSize: Vec3, parts: readonly SweptMap[], fill: number, linear: boolean): PlaneSource {
  const [S0, S1] = sourceSize;
  return {
    addPlane(k, acc) {
      for (const q of parts)
        for (let j = 0, p = 0; j < S1; j++)
          for (let i = 0; i < S0; i++, p++) acc[p] = acc[p]! + q.weight * valueAt(q, i, j, k, fill, linear);
    },
  };
}

/**
 * A few slices of what `mapToSource` would give, without the rest: source slices `indices` along
 * index axis `axis`, as a volume of the source grid's size except `indices.length` along `axis`.
 * For pictures of a handful of slices: a whole CT-sized map is 315 MB, and on some machines
 * touching that much fresh memory alone takes a second.
 */
export function mapSlicesToSource(
  values: ArrayLike<number>,
  record: SpatialRecord,
  axis: 0 | 1 | 2,
  indices: readonly number[],
  options: MapBackOptions = {},
): { size: Vec3; data: Float32Array } {
  const grid = currentGrid(record);
  if (values.length !== voxelCount(grid.size))
    throw new RangeError(`${values.length} values for a ${grid.size.join('×')} grid`);
  const q: SweptMap = { values, size: grid.size, weight: 1, toCurrent: invertAffine(toSourceIndexMap(record)) };
  const size = [...record.source.size] as Vec3;
  size[axis] = indices.length;
  const data = new Float32Array(voxelCount(size));
  const fill = options.fill ?? 0;
  const linear = (options.interpolation ?? 'linear') === 'linear';
  const aligned = axisAligned(q.toCurrent);
  if (aligned) {
    slicesAxisAligned(q, aligned, record.source.size, axis, indices, { size, data }, fill, linear);
    return { size, data };
  }
  const at: Vec3 = [0, 0, 0];
  for (let k = 0, p = 0; k < size[2]; k++)
    for (let j = 0; j < size[1]; j++)
      for (let i = 0; i < size[0]; i++, p++) {
        at[0] = i;
        at[1] = j;
        at[2] = k;
        at[axis] = indices[at[axis]]!;
        data[p] = valueAt(q, at[0], at[1], at[2], fill, linear);
      }
  return { size, data };
}

const clampIndex = (v: number, n: number) => (v < 0 ? 0 : Math.min(v, n - 1));

export function nearest(data: ArrayLike<number>, size: Vec3, x: number, y: number, z: number): number {
  const i = clampIndex(Math.round(x), size[0]);
  const j = clampIndex(Math.round(y), size[1]);
  const k = clampIndex(Math.round(z), size[2]);
  return data[i + size[0] * (j + size[1] * k)]!;
}

/** Trilinear interpolation at a continuous index, clamped at the edges (align-corners false). */
export function trilinear(data: ArrayLike<number>, size: Vec3, x: number, y: number, z: number): number {
  const [nx, ny, nz] = size;
  x = clampIndex(x, nx);
  y = clampIndex(y, ny);
  z = clampIndex(z, nz);
  const x0 = Math.floor(x),
    y0 = Math.floor(y),
    z0 = Math.floor(z);
  const x1 = Math.min(x0 + 1, nx - 1),
    y1 = Math.min(y0 + 1, ny - 1),
    z1 = Math.min(z0 + 1, nz - 1);
  const fx = x - x0,
    fy = y - y0,
    fz = z - z0;
  const at = (i: number, j: number, k: number) => data[i + nx * (j + ny * k)]!;
  const c00 = at(x0, y0, z0) * (1 - fx) + at(x1, y0, z0) * fx;
  const c10 = at(x0, y1, z0) * (1 - fx) + at(x1, y1, z0) * fx;
  const c01 = at(x0, y0, z1) * (1 - fx) + at(x1, y0, z1) * fx;
  const c11 = at(x0, y1, z1) * (1 - fx) + at(x1, y1, z1) * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}

/** Allocates an array of the same type as `like`. */
export function sameType(like: VoxelArray, length: number): VoxelArray {
  const Ctor = like.constructor as new (n: number) => VoxelArray;
  return new Ctor(length);
}
