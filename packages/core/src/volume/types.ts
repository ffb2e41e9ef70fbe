/** Voxel arrays kept in the file's own type: a CT stays int16, a mask uint8 (no float copy until needed). */
export type VoxelArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export type VoxelType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export type Vec3 = [number, number, number];

/**
 * Where a voxel grid sits in the world, as ITK has it: the LPS patient frame, `size` and
 * `spacing` in index order (x = i fastest), `origin` the world position of voxel (0,0,0), and
 * `direction` a row-major 3×3 (`direction[row*3+col]`) whose columns are the world directions of
 * the i, j and k axes. world = origin + direction · diag(spacing) · index.
 */
export interface Grid {
  size: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Float64Array;
}

/** A 3D scalar image, like ITK-Wasm's `Image`: voxels with i fastest, then j, then k. */
export interface Volume extends Grid {
  data: VoxelArray;
}

export function voxelType(data: VoxelArray): VoxelType {
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

export function voxelCount(size: readonly number[]): number {
  return size.reduce((a, b) => a * b, 1);
}

export function gridOf(v: Grid): Grid {
  return {
    size: [...v.size] as Vec3,
    spacing: [...v.spacing] as Vec3,
    origin: [...v.origin] as Vec3,
    direction: new Float64Array(v.direction),
  };
}

/** Float32 view of the voxels: the array itself when already float32, else one converted copy. */
export function asFloat32(data: VoxelArray): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}
