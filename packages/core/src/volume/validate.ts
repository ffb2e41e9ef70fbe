import { InputError } from '../util/errors.js';
import { type Volume, voxelCount } from './types.js';

/** Rejects geometry no downstream step can use: zero, negative or non-finite spacing, a singular direction. */
export function checkGeometry(source: string, v: Volume): void {
  if (v.size.some((s) => !Number.isInteger(s) || s < 1))
    throw new InputError(source, `invalid size ${JSON.stringify(v.size)}`);
  if (v.spacing.some((s) => !Number.isFinite(s) || s <= 0))
    throw new InputError(
      source,
      `zero or negative spacing ${JSON.stringify(v.spacing)}: every voxel spacing must be > 0`,
    );
  if (v.origin.some((o) => !Number.isFinite(o)))
    throw new InputError(source, `non-finite origin ${JSON.stringify(v.origin)}`);
  const d = v.direction;
  const det =
    d[0]! * (d[4]! * d[8]! - d[5]! * d[7]!) -
    d[1]! * (d[3]! * d[8]! - d[5]! * d[6]!) +
    d[2]! * (d[3]! * d[7]! - d[4]! * d[6]!);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-6)
    throw new InputError(source, 'direction matrix is singular or non-finite');
  if (v.data.length !== voxelCount(v.size))
    throw new InputError(
      source,
      `holds ${v.data.length} voxels, its size ${v.size.join('×')} needs ${voxelCount(v.size)}`,
    );
}

/** Rejects NaN/Inf voxels (only float arrays can hold them), naming how many and the first one. */
export function checkFinite(source: string, v: Volume): void {
  const data = v.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return;
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count === 0) return;
  const [nx, ny] = v.size;
  const idx = [first % nx, Math.floor(first / nx) % ny, Math.floor(first / (nx * ny))];
  throw new InputError(source, `${count} non-finite voxel(s) (NaN or Inf), the first at index [${idx.join(', ')}]`);
}
