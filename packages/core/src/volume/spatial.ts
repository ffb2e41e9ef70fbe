import { InputError } from '../util/errors.js';
import { type AxisSampling, axisSampling } from './axis-sampling.js';
import { type Affine, identityAffine, orientationCode } from './geometry.js';
import { appendStep, asProcessed, outputGrid, type Processed, type SpatialStep, sameType } from './record.js';
import { type Grid, gridOf, type Vec3, type Volume, type VoxelArray, voxelCount } from './types.js';

/**
 * Separable trilinear / nearest resampling (in = scale·out + offset per axis) of the grid that
 * `through` makes of `v`: a signed axis permutation (a reorientation's index map, sampled grid
 * index → index of `v`), identity by default. Sampling is computed on the permuted grid and only
 * the voxel addresses go through `through`, so the values are exactly those of reorienting first,
 * without a permuted copy of the input.
 */
function resampleAxisAligned(
  v: Volume,
  size: Vec3,
  scale: Vec3,
  offset: Vec3,
  mode: 'nearest' | 'linear',
  through: Affine = identityAffine(),
): VoxelArray {
  const inStride = [1, v.size[0], v.size[0] * v.size[1]];
  const tables = [0, 1, 2].map((a) => {
    // The axis of `v` this axis reads, with its sign and offset (index_v = sign·index + shift).
    const c = [0, 1, 2].find((r) => through[r * 4 + a] !== 0);
    if (c === undefined) throw new RangeError(`resample: axis ${a} reads no input axis`);
    const [sign, shift] = [through[c * 4 + a]!, through[c * 4 + 3]!];
    const t = axisSampling(size[a]!, v.size[c]!, scale[a]!, offset[a]!, mode);
    const address = (x: number) => (sign * x + shift) * inStride[c]!;
    return { ...t, lo: t.lo.map(address), hi: t.hi.map(address) };
  });
  const [ax, ay, az] = tables as [AxisSampling, AxisSampling, AxisSampling];
  const out = mode === 'nearest' ? sameType(v.data, voxelCount(size)) : new Float32Array(voxelCount(size));
  const d = v.data;
  let p = 0;
  for (let k = 0; k < size[2]; k++) {
    const z0 = az.lo[k]!,
      z1 = az.hi[k]!,
      fz = az.w[k]!;
    for (let j = 0; j < size[1]; j++) {
      const y0 = ay.lo[j]!,
        y1 = ay.hi[j]!,
        fy = ay.w[j]!;
      for (let i = 0; i < size[0]; i++, p++) {
        const x0 = ax.lo[i]!,
          x1 = ax.hi[i]!,
          fx = ax.w[i]!;
        if (mode === 'nearest') {
          out[p] = d[x0 + y0 + z0]!;
          continue;
        }
        const c00 = d[x0 + y0 + z0]! + (d[x1 + y0 + z0]! - d[x0 + y0 + z0]!) * fx;
        const c10 = d[x0 + y1 + z0]! + (d[x1 + y1 + z0]! - d[x0 + y1 + z0]!) * fx;
        const c01 = d[x0 + y0 + z1]! + (d[x1 + y0 + z1]! - d[x0 + y0 + z1]!) * fx;
        const c11 = d[x0 + y1 + z1]! + (d[x1 + y1 + z1]! - d[x0 + y1 + z1]!) * fx;
        const c0 = c00 + (c10 - c00) * fy;
        out[p] = c0 + (c01 + (c11 - c01) * fy - c0) * fz;
      }
    }
  }
  return out;
}

function diagonalMap(scale: readonly number[], offset: readonly number[]): Affine {
  const m = identityAffine();
  for (let a = 0; a < 3; a++) {
    m[a * 4 + a] = scale[a]!;
    m[a * 4 + 3] = offset[a]!;
  }
  return m;
}

export interface ResampleOptions {
  /** 'linear' (trilinear, float32 output) for images; 'nearest' (keeps the type) for masks. */
  interpolation?: 'nearest' | 'linear';
  /**
   * Reorient to this code first (as `reorient` does), in the same pass over the voxels: the
   * record holds both steps, but no permuted copy of the input is made (a CT is 157 MB).
   */
  orientation?: string;
}

/**
 * Resamples to a voxel count per axis. The field of view is kept: output voxel o samples input
 * index (o + ½)·n_in/n_out − ½, so the spacing becomes spacing·n_in/n_out. With `orientation`,
 * the counts are of the reoriented grid.
 */
export function resampleToSize(input: Volume | Processed, size: Vec3, options: ResampleOptions = {}): Processed {
  const { volume, record } = asProcessed(input);
  if (size.some((s) => !Number.isInteger(s) || s < 1))
    throw new RangeError(`resample size must be positive integers, got ${size}`);
  const plan = options.orientation ? reorientPlan(volume, options.orientation) : null;
  const from = plan ? plan.grid : gridOf(volume);
  const scale = [0, 1, 2].map((a) => from.size[a]! / size[a]!) as Vec3;
  const offset = scale.map((s) => 0.5 * s - 0.5) as Vec3;
  const mode = options.interpolation ?? 'linear';
  const map = diagonalMap(scale, offset);
  const grid = outputGrid(from, map, size);
  const data = resampleAxisAligned(volume, size, scale, offset, mode, plan?.map);
  const resample: SpatialStep = {
    op: 'resample',
    input: from,
    output: grid,
    indexMap: map,
    params: { size, interpolation: mode },
  };
  const steps = plan ? appendStep(record, reorientStep(volume, plan)) : record;
  return { volume: { ...grid, data }, record: appendStep(steps, resample) };
}

/** The voxel count per axis that gives `spacing` (mm) over the same field of view. */
export function sizeForSpacing(grid: Grid, spacing: Vec3): Vec3 {
  if (spacing.some((s) => !(s > 0))) throw new RangeError(`target spacing must be > 0, got ${spacing}`);
  return [0, 1, 2].map((a) => Math.max(1, Math.round((grid.size[a]! * grid.spacing[a]!) / spacing[a]!))) as Vec3;
}

/** Resamples to a target spacing (mm), rounding the voxel count so the field of view is kept. */
export function resampleToSpacing(input: Volume | Processed, spacing: Vec3, options: ResampleOptions = {}): Processed {
  const { volume } = asProcessed(input);
  const from = options.orientation ? reorientPlan(volume, options.orientation).grid : volume;
  return resampleToSize(input, sizeForSpacing(from, spacing), options);
}

export interface CropPadOptions {
  /** First input index of the output along each axis; default: centred. Negative pads before. */
  start?: Vec3;
  /** Value for padded voxels (default 0). */
  fill?: number;
}

/** Crops and/or pads to `size` (centred unless `start` says otherwise), keeping the type and world positions. */
export function cropOrPad(input: Volume | Processed, size: Vec3, options: CropPadOptions = {}): Processed {
  const { volume, record } = asProcessed(input);
  const start = options.start ?? ([0, 1, 2].map((a) => Math.floor((volume.size[a]! - size[a]!) / 2)) as Vec3);
  const out = sameType(volume.data, voxelCount(size));
  if (options.fill) out.fill(options.fill);
  const [nx, ny, nz] = volume.size;
  for (let k = 0; k < size[2]; k++) {
    const kk = k + start[2];
    if (kk < 0 || kk >= nz) continue;
    for (let j = 0; j < size[1]; j++) {
      const jj = j + start[1];
      if (jj < 0 || jj >= ny) continue;
      const i0 = Math.max(0, -start[0]);
      const i1 = Math.min(size[0], nx - start[0]);
      if (i1 <= i0) continue;
      const from = i0 + start[0] + nx * (jj + ny * kk);
      out.set(volume.data.subarray(from, from + (i1 - i0)), i0 + size[0] * (j + size[1] * k));
    }
  }
  const map = diagonalMap([1, 1, 1], start);
  const grid = outputGrid(volume, map, size);
  return {
    volume: { ...grid, data: out },
    record: appendStep(record, {
      op: 'crop-pad',
      input: gridOf(volume),
      output: grid,
      indexMap: map,
      params: { size, start, fill: options.fill ?? 0 },
    }),
  };
}

const LETTER_ROW: Record<string, [number, number]> = {
  L: [0, 1],
  R: [0, -1],
  P: [1, 1],
  A: [1, -1],
  S: [2, 1],
  I: [2, -1],
};

/** How `reorient` would permute and flip a grid: the index map (output → input) and the grid it makes. */
export interface ReorientPlan {
  map: Affine;
  grid: Grid;
  from: string;
  to: string;
}

/** The plan of `reorient(v, target)` without touching voxels; throws for a bad code or an oblique grid. */
export function reorientPlan(volume: Grid, target = 'LPS'): ReorientPlan {
  const code = target.toUpperCase();
  const rows = [...code].map((c) => LETTER_ROW[c]);
  if (code.length !== 3 || rows.some((r) => !r) || new Set(rows.map((r) => r![0])).size !== 3)
    throw new InputError(
      target,
      'not an orientation code: use three letters, one of L/R, P/A, S/I each (e.g. LPS, RAS)',
    );
  const current = orientationCode(volume.direction);
  if (new Set([...current].map((l) => LETTER_ROW[l]![0])).size !== 3)
    throw new RangeError(`reorient: the direction is too oblique to name its axes (${current}); resample it instead`);
  const map = new Float64Array(16);
  map[15] = 1;
  const size = [0, 0, 0] as Vec3;
  for (let a = 0; a < 3; a++) {
    const [row, sign] = rows[a]!;
    // The input axis whose dominant world row is `row`.
    const c = [...current].findIndex((l) => LETTER_ROW[l]![0] === row);
    const flip = LETTER_ROW[current[c]!]![1] !== sign;
    map[c * 4 + a] = flip ? -1 : 1;
    map[c * 4 + 3] = flip ? volume.size[c]! - 1 : 0;
    size[a] = volume.size[c]!;
  }
  return { map, grid: outputGrid(volume, map, size), from: current, to: code };
}

function reorientStep(volume: Volume, plan: ReorientPlan): SpatialStep {
  return {
    op: 'reorient',
    input: gridOf(volume),
    output: plan.grid,
    indexMap: plan.map,
    params: { from: plan.from, to: plan.to },
  };
}

/**
 * Permutes and flips axes (no interpolation) so index axes point as `target` says, e.g. 'LPS'
 * (ITK's identity: i → left, j → posterior, k → superior) or 'RAS' (nibabel's canonical).
 */
export function reorient(input: Volume | Processed, target = 'LPS'): Processed {
  const { volume, record } = asProcessed(input);
  const plan = reorientPlan(volume, target);
  const { map, grid } = plan;
  const size = grid.size;
  // Strides: out index o → input flat offset = base + Σ_a o_a·stride_a.
  const inStride = [1, volume.size[0], volume.size[0] * volume.size[1]];
  const stride = [0, 1, 2].map((a) => [0, 1, 2].reduce((s, c) => s + map[c * 4 + a]! * inStride[c]!, 0));
  const base = [0, 1, 2].reduce((s, c) => s + map[c * 4 + 3]! * inStride[c]!, 0);
  const out = sameType(volume.data, volume.data.length);
  let p = 0;
  for (let k = 0; k < size[2]; k++)
    for (let j = 0; j < size[1]; j++) {
      let q = base + j * stride[1]! + k * stride[2]!;
      for (let i = 0; i < size[0]; i++, p++, q += stride[0]!) out[p] = volume.data[q]!;
    }
  return { volume: { ...grid, data: out }, record: appendStep(record, reorientStep(volume, plan)) };
}
