import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { InputError } from '@anymc3d/core/util';
import { isNiftiHeader } from './volume-format.js';

const gunzipAsync = promisify(gunzip);

/**
 * A NIfTI-1 volume as the server needs it for slice PNGs: the first three dimensions, the
 * voxel→world (RAS) affine, and the scaled voxels as float32. Only what rendering needs; the
 * full volume module (reorientation, resampling, other formats) lives in @anymc3d/core/volume.
 */
export interface NiftiVolume {
  /** [nx, ny, nz] (a 2D image has nz = 1; extra dimensions beyond the first 3D frame are dropped). */
  dims: [number, number, number];
  /** pixdim[1..3], millimetres. */
  spacing: [number, number, number];
  /** Row-major 4×4 voxel (i,j,k) → RAS world, from sform if set, else qform, else spacing only. */
  affine: number[];
  /** Scaled voxel values (scl_slope/scl_inter applied), x fastest. */
  data: Float32Array;
  calMin: number;
  calMax: number;
  description: string;
  /** The geometry fields copied verbatim to a derived volume (heatmap on the same grid). */
  geometry: NiftiGeometry;
}

export interface NiftiGeometry {
  pixdim: number[];
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  srow: number[];
}

type TypedArrayCtor = { new (buffer: ArrayBuffer): ArrayLike<number>; BYTES_PER_ELEMENT: number };

const DATATYPES: Record<number, { ctor: TypedArrayCtor; read: (v: DataView, o: number, le: boolean) => number }> = {
  2: { ctor: Uint8Array, read: (v, o) => v.getUint8(o) },
  4: { ctor: Int16Array, read: (v, o, le) => v.getInt16(o, le) },
  8: { ctor: Int32Array, read: (v, o, le) => v.getInt32(o, le) },
  16: { ctor: Float32Array, read: (v, o, le) => v.getFloat32(o, le) },
  64: { ctor: Float64Array, read: (v, o, le) => v.getFloat64(o, le) },
  256: { ctor: Int8Array, read: (v, o) => v.getInt8(o) },
  512: { ctor: Uint16Array, read: (v, o, le) => v.getUint16(o, le) },
  768: { ctor: Uint32Array, read: (v, o, le) => v.getUint32(o, le) },
};

/** Reads a .nii or .nii.gz file's bytes (gunzip runs off the event loop). */
export async function readNifti(bytes: Uint8Array, source: string): Promise<NiftiVolume> {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(await gunzipAsync(bytes)) : bytes;
  return parseNifti(raw, source);
}

export function parseNifti(raw: Uint8Array, source: string): NiftiVolume {
  if (!isNiftiHeader(raw)) throw new InputError(source, 'not a NIfTI-1 file (no 348-byte header with magic n+1/ni1)');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = view.getInt32(0, true) === 348;
  const i16 = (o: number) => view.getInt16(o, le);
  const f32 = (o: number) => view.getFloat32(o, le);
  const ndim = i16(40);
  if (ndim < 1 || ndim > 7) throw new InputError(source, `dim[0] = ${ndim} is not 1..7`);
  const dims: [number, number, number] = [1, 2, 3].map((d) => (d <= ndim ? Math.max(1, i16(40 + 2 * d)) : 1)) as [
    number,
    number,
    number,
  ];
  const datatype = i16(70);
  const type = DATATYPES[datatype];
  if (!type) throw new InputError(source, `NIfTI datatype ${datatype} is not supported`);
  const pixdim = Array.from({ length: 8 }, (_, d) => f32(76 + 4 * d));
  const voxOffset = Math.max(352, Math.round(f32(108)));
  const count = dims[0] * dims[1] * dims[2];
  const bytesPer = type.ctor.BYTES_PER_ELEMENT;
  if (voxOffset + count * bytesPer > raw.length)
    throw new InputError(source, `holds ${raw.length - voxOffset} voxel bytes, needs ${count * bytesPer}`);
  const slopeRaw = f32(112);
  const slope = slopeRaw === 0 || !Number.isFinite(slopeRaw) ? 1 : slopeRaw;
  const inter = Number.isFinite(f32(116)) ? f32(116) : 0;
  const data = new Float32Array(count);
  const nativeLe = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (le === nativeLe && (raw.byteOffset + voxOffset) % bytesPer === 0) {
    const typed = new (type.ctor as unknown as new (b: ArrayBufferLike, o: number, n: number) => ArrayLike<number>)(
      raw.buffer,
      raw.byteOffset + voxOffset,
      count,
    );
    for (let i = 0; i < count; i++) data[i] = (typed[i] as number) * slope + inter;
  } else {
    for (let i = 0; i < count; i++) data[i] = type.read(view, voxOffset + i * bytesPer, le) * slope + inter;
  }
  const geometry: NiftiGeometry = {
    pixdim,
    xyztUnits: raw[123] ?? 0,
    qformCode: i16(252),
    sformCode: i16(254),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: Array.from({ length: 12 }, (_, n) => f32(280 + 4 * n)),
  };
  return {
    dims,
    spacing: [pixdim[1] || 1, pixdim[2] || 1, pixdim[3] || 1],
    affine: affineOf(geometry),
    data,
    calMin: f32(128),
    calMax: f32(124),
    description: Buffer.from(raw.buffer, raw.byteOffset + 148, 80)
      .toString('latin1')
      .replace(/\0.*$/s, ''),
    geometry,
  };
}

/** The NIfTI-1 rule: sform when sform_code > 0, else the quaternion qform, else scaling only. */
export function affineOf(g: NiftiGeometry): number[] {
  if (g.sformCode > 0) return [...g.srow, 0, 0, 0, 1];
  const [dx, dy, dz] = [g.pixdim[1] || 1, g.pixdim[2] || 1, g.pixdim[3] || 1];
  if (g.qformCode <= 0) return [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0, 0, 0, 0, 1];
  const [b, c, d] = g.quatern;
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const qfac = (g.pixdim[0] ?? 1) < 0 ? -1 : 1;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const row = (i: number) => [
    (r[i]?.[0] ?? 0) * dx,
    (r[i]?.[1] ?? 0) * dy,
    (r[i]?.[2] ?? 0) * dz * qfac,
    g.qoffset[i] ?? 0,
  ];
  return [...row(0), ...row(1), ...row(2), 0, 0, 0, 1];
}

/**
 * A float32 .nii.gz on the grid of `like` (same dims and geometry fields, so the same affine):
 * what a heatmap must be for a viewer to overlay it on the image.
 */
export function encodeNiftiFloat32(
  like: Pick<NiftiVolume, 'dims' | 'geometry'>,
  data: Float32Array,
  options: NiftiWriteOptions,
): Uint8Array {
  return encodeNifti(like, data, options, 'float32');
}

/**
 * The same as a uint8 volume with scl_slope 1/255: values in [0, 1] stored in a quarter of the
 * bytes (the heatmap form CONVENTIONS.md §4.2 suggests); readers apply the slope.
 */
export function encodeNiftiUnitUint8(
  like: Pick<NiftiVolume, 'dims' | 'geometry'>,
  data: Float32Array,
  options: NiftiWriteOptions,
): Uint8Array {
  return encodeNifti(like, data, options, 'uint8');
}

export interface NiftiWriteOptions {
  calMin: number;
  calMax: number;
  description?: string;
  intentName?: string;
}

function encodeNifti(
  like: Pick<NiftiVolume, 'dims' | 'geometry'>,
  data: Float32Array,
  options: NiftiWriteOptions,
  type: 'float32' | 'uint8',
): Uint8Array {
  const count = like.dims[0] * like.dims[1] * like.dims[2];
  if (data.length !== count) throw new Error(`encodeNifti: ${data.length} values for ${count} voxels`);
  const bytesPer = type === 'float32' ? 4 : 1;
  const out = new Uint8Array(352 + count * bytesPer);
  const view = new DataView(out.buffer);
  view.setInt32(0, 348, true);
  const dim = [3, like.dims[0], like.dims[1], like.dims[2], 1, 1, 1, 1];
  for (const [i, d] of dim.entries()) view.setInt16(40 + 2 * i, d, true);
  view.setInt16(70, type === 'float32' ? 16 : 2, true);
  view.setInt16(72, 8 * bytesPer, true);
  const g = like.geometry;
  for (const [i, p] of g.pixdim.entries()) view.setFloat32(76 + 4 * i, i >= 4 ? 0 : p, true);
  view.setFloat32(108, 352, true);
  view.setFloat32(112, type === 'float32' ? 1 : 1 / 255, true);
  view.setFloat32(116, 0, true);
  out[123] = g.xyztUnits;
  view.setFloat32(124, options.calMax, true);
  view.setFloat32(128, options.calMin, true);
  out.set(Buffer.from((options.description ?? '').slice(0, 79), 'latin1'), 148);
  view.setInt16(252, g.qformCode, true);
  view.setInt16(254, g.sformCode, true);
  for (const [i, q] of g.quatern.entries()) view.setFloat32(256 + 4 * i, q, true);
  for (const [i, q] of g.qoffset.entries()) view.setFloat32(268 + 4 * i, q, true);
  for (const [i, s] of g.srow.entries()) view.setFloat32(280 + 4 * i, s, true);
  out.set(Buffer.from((options.intentName ?? '').slice(0, 15), 'latin1'), 328);
  out.set(Buffer.from('n+1\0', 'latin1'), 344);
  if (type === 'float32') new Float32Array(out.buffer, 352, count).set(data);
  else for (let i = 0; i < count; i++) out[352 + i] = Math.round(Math.min(1, Math.max(0, data[i] as number)) * 255);
  return gzipSync(out, { level: 6 });
}
