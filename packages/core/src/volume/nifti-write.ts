import { open } from 'node:fs/promises';
import { constants } from 'node:zlib';
import { type GzipPart, gzipParts } from '../io/gzip.js';
import { InputError } from '../util/errors.js';
import { type Volume, type VoxelType, voxelType } from './types.js';

/** NIfTI-1 datatype code and bits per voxel of each voxel type. */
const DATATYPE: Readonly<Record<VoxelType, [code: number, bits: number]>> = {
  uint8: [2, 8],
  int16: [4, 16],
  int32: [8, 32],
  float32: [16, 32],
  float64: [64, 64],
  int8: [256, 8],
  uint16: [512, 16],
  uint32: [768, 32],
};

/** The fixed header, then 4 bytes that say no extensions follow: the voxels start here. */
const VOX_OFFSET = 352;

/** Bytes per write call. */
const WRITE_PIECE = 1 << 30;

/** NIFTI_XFORM_SCANNER_ANAT: what ITK writes for both qform and sform. */
const XFORM_SCANNER = 1;

/**
 * The qform quaternion (b, c, d) and handedness factor of a rotation given as RAS columns
 * (NIfTI-1's method 2). A left-handed grid keeps a proper rotation by flipping its third
 * column and recording qfac = −1. The largest of a, b, c, d is found first so the division
 * is well conditioned for any rotation, including 180° turns.
 */
export function rotationQuaternion(columns: number[][]): { quatern: [number, number, number]; qfac: 1 | -1 } {
  const [x, y, z] = columns as [number[], number[], number[]];
  const det =
    x[0]! * (y[1]! * z[2]! - z[1]! * y[2]!) -
    y[0]! * (x[1]! * z[2]! - z[1]! * x[2]!) +
    z[0]! * (x[1]! * y[2]! - y[1]! * x[2]!);
  const qfac = det < 0 ? -1 : 1;
  // R[r][c]: row r of the rotation, column c the world direction of voxel axis c.
  const R = [0, 1, 2].map((r) => [x[r]!, y[r]!, qfac * z[r]!]) as [number[], number[], number[]];
  const trace = R[0]![0]! + R[1]![1]! + R[2]![2]!;
  let a: number;
  let b: number;
  let c: number;
  let d: number;
  if (trace > 0) {
    a = 0.5 * Math.sqrt(1 + trace);
    b = (R[2]![1]! - R[1]![2]!) / (4 * a);
    c = (R[0]![2]! - R[2]![0]!) / (4 * a);
    d = (R[1]![0]! - R[0]![1]!) / (4 * a);
  } else if (R[0]![0]! >= R[1]![1]! && R[0]![0]! >= R[2]![2]!) {
    b = 0.5 * Math.sqrt(Math.max(0, 1 + R[0]![0]! - R[1]![1]! - R[2]![2]!));
    a = (R[2]![1]! - R[1]![2]!) / (4 * b);
    c = (R[0]![1]! + R[1]![0]!) / (4 * b);
    d = (R[0]![2]! + R[2]![0]!) / (4 * b);
  } else if (R[1]![1]! >= R[2]![2]!) {
    c = 0.5 * Math.sqrt(Math.max(0, 1 - R[0]![0]! + R[1]![1]! - R[2]![2]!));
    a = (R[0]![2]! - R[2]![0]!) / (4 * c);
    b = (R[0]![1]! + R[1]![0]!) / (4 * c);
    d = (R[1]![2]! + R[2]![1]!) / (4 * c);
  } else {
    d = 0.5 * Math.sqrt(Math.max(0, 1 - R[0]![0]! - R[1]![1]! + R[2]![2]!));
    a = (R[1]![0]! - R[0]![1]!) / (4 * d);
    b = (R[0]![2]! + R[2]![0]!) / (4 * d);
    c = (R[1]![2]! + R[2]![1]!) / (4 * d);
  }
  // The file stores b, c, d and derives a ≥ 0 from them, so the sign is fixed by a.
  const sign = a < 0 ? -1 : 1;
  return { quatern: [sign * b, sign * c, sign * d], qfac };
}

/** Writes consecutive fields of `width` bytes from `offset`. */
function writeAll(values: readonly number[], offset: number, width: number, put: (x: number, at: number) => void) {
  for (let k = 0; k < values.length; k++) put(values[k]!, offset + width * k);
}

/** What a NIfTI header can say beyond the grid: how to display the values, and what they are. */
export interface NiftiWriteOptions {
  /** cal_min, cal_max: the range viewers (niivue, FSLeyes, Mango) map to their colour scale. */
  displayRange?: [number, number];
  /** descrip (at most 79 characters). */
  description?: string;
  /**
   * Float voxels on a known range stored as 16-bit codes with scl_slope and scl_inter (value =
   * code · slope + inter, which every NIfTI reader applies): steps of (hi − lo)/65535, at most half
   * a step off (7.6e-6 on a heatmap's 0–1), in half the bytes (a dense heatmap of a CT, gzipped:
   * 144 against 261 MiB). A value outside the range, or NaN, is refused.
   */
  quantize?: { range: [number, number] };
}

/** Codes of a quantised volume: 0 … 65535. */
const CODES = 65535;

/**
 * The 352 bytes before the voxels of a single-file NIfTI-1 (`n+1`) holding `v`: geometry in both
 * the sform (exact to float32) and the qform (a rigid rotation), both coded scanner, as ITK writes
 * them, so ITK, nibabel and viewers that read only one of the two agree. Units mm and s.
 */
export function encodeNiftiHeader(path: string, v: Volume, options: NiftiWriteOptions = {}): Buffer {
  if (v.size.some((n) => n > 32767))
    throw new InputError(path, `size ${v.size.join('×')} does not fit a NIfTI-1 header (at most 32767 per axis)`);
  const h = Buffer.alloc(VOX_OFFSET);
  const [code, bits] = DATATYPE[options.quantize ? 'uint16' : voxelType(v.data)];
  h.writeInt32LE(348, 0);
  h.write('r', 38, 'latin1');
  writeAll([3, ...v.size, 1, 1, 1, 1], 40, 2, (x, at) => h.writeInt16LE(x, at));
  h.writeInt16LE(code, 70);
  h.writeInt16LE(bits, 72);
  // Voxel-to-RAS columns: the Volume's LPS direction with x and y negated, scaled by spacing.
  const unit = [0, 1, 2].map((c) => [0, 1, 2].map((r) => (r < 2 ? -1 : 1) * v.direction[r * 3 + c]!));
  const ras = [-v.origin[0], -v.origin[1], v.origin[2]];
  const { quatern, qfac } = rotationQuaternion(unit);
  writeAll([qfac, ...v.spacing, 1, 1, 1, 1], 76, 4, (x, at) => h.writeFloatLE(x, at));
  h.writeFloatLE(VOX_OFFSET, 108);
  if (options.quantize) {
    const [lo, hi] = options.quantize.range;
    h.writeFloatLE((hi - lo) / CODES, 112); // scl_slope
    h.writeFloatLE(lo, 116); // scl_inter
  } else h.writeFloatLE(1, 112); // scl_slope 1, scl_inter 0: the stored values are the values
  h.writeUInt8(2 | 8, 123); // NIFTI_UNITS_MM | NIFTI_UNITS_SEC
  if (options.displayRange) {
    h.writeFloatLE(options.displayRange[1], 124); // cal_max
    h.writeFloatLE(options.displayRange[0], 128); // cal_min
  }
  // descrip is 80 bytes, the last one kept 0 so readers find the end.
  h.write((options.description ?? 'anymc3d').slice(0, 79), 148, 'latin1');
  h.writeInt16LE(XFORM_SCANNER, 252);
  h.writeInt16LE(XFORM_SCANNER, 254);
  writeAll(quatern, 256, 4, (x, at) => h.writeFloatLE(x, at));
  writeAll(ras, 268, 4, (x, at) => h.writeFloatLE(x, at));
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) h.writeFloatLE(unit[c]![r]! * v.spacing[c]!, 280 + 16 * r + 4 * c);
    h.writeFloatLE(ras[r]!, 280 + 16 * r + 12);
  }
  h.write('n+1\0', 344, 'latin1');
  return h;
}

/**
 * How to deflate the voxels. Float mantissas rarely repeat, so searching for long matches buys
 * little: on a 512×512×300 float32 heatmap, run-length matching alone (Z_RLE) took 2.1 s against
 * 5.4 s for level-1 LZ, for the same 274 MB (dense map), or 1.9 s against 3.3 s for 212 against
 * 162 MB (a map that is mostly zero). Integer volumes (masks, CT) keep full LZ, where it pays.
 */
function deflateStrategy(v: Volume): number {
  // Quantised floats too: 16-bit codes of a smooth map change at nearly every voxel; on a ViT-like
  // map (16² cells per slice upsampled to 512², 40 slices, ad hoc) run-length matching took half
  // the time of level-1 LZ for 12 % more bytes. Dense blocks of codes are not deflated at all
  // (denseCodes).
  return v.data instanceof Float32Array || v.data instanceof Float64Array
    ? constants.Z_RLE
    : constants.Z_DEFAULT_STRATEGY;
}

/**
 * Whether a block of 16-bit codes (a quantised float map) is dense: fewer than one sampled code in
 * 16 equal to the code before it. Such a block is stored, not deflated: a dense heatmap's codes
 * change at nearly every voxel, and on a 512×512×300 ViT attention map run-length deflate took
 * 1.46 s (one thread) to save 7 % (139.6 of 150 MiB) where storing took 0.13 s; a sparse map's
 * blocks (a MobileNet CAM there: 85 % zeros, 150 → 23.9 MiB in 0.27 s) are still deflated. Float
 * voxels written as they are keep deflating: their exponent bytes compress (17 % on that map).
 */
function denseCodes(bytes: Uint8Array): boolean {
  if (bytes.byteOffset % 2 !== 0 || bytes.byteLength < 128) return false;
  const codes = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
  // Every 7th pair: a few ms per 8 MiB block instead of a pass over every code.
  let pairs = 0;
  let repeats = 0;
  for (let i = 1; i < codes.length; i += 7, pairs++) if (codes[i] === codes[i - 1]) repeats++;
  return repeats * 16 < pairs;
}

/**
 * codes[i] = round half up((values[i] − lo) · perUnit); whether every value lay in [lo, hi]. The
 * block's least and greatest value are checked once, after the loop (a NaN makes both NaN, so it
 * fails too), and the double goes into the Uint16Array as it is: the store truncates, so + 0.5
 * rounds half up for the non-negative offsets a valid value has. With a range test per voxel and an
 * explicit | 0, the 79 M voxels of a CT heatmap took 0.26–0.52 s alone (ad hoc), this loop
 * 0.17–0.18 s; inside a write, beside the blocks deflating on the other core, about 0.4 s.
 */
function quantizeBlock(
  values: Float32Array | Float64Array,
  codes: Uint16Array,
  lo: number,
  hi: number,
  perUnit: number,
): boolean {
  let least = Number.POSITIVE_INFINITY;
  let greatest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    least = Math.min(least, x);
    greatest = Math.max(greatest, x);
    codes[i] = (x - lo) * perUnit + 0.5;
  }
  return least >= lo && greatest <= hi;
}

/**
 * The voxels of `v` as little-endian uint16 codes round((value − lo) / step), made a block at a
 * time while they are compressed (no second volume in memory).
 */
function quantizedVoxels(v: Volume, path: string, [lo, hi]: [number, number]): GzipPart {
  if (!(v.data instanceof Float32Array || v.data instanceof Float64Array))
    throw new Error(`${path}: only float voxels are quantised, not ${voxelType(v.data)}`);
  if (!(hi > lo)) throw new Error(`${path}: quantisation range [${lo}, ${hi}] is empty`);
  const data = v.data;
  const perUnit = CODES / (hi - lo);
  return {
    byteLength: data.length * 2,
    produce(from, to, scratch) {
      if (from % 2 !== 0 || to % 2 !== 0) throw new Error(`${path}: a block [${from}, ${to}) splits a 16-bit voxel`);
      const codes = new Uint16Array(scratch.buffer, scratch.byteOffset, (to - from) / 2);
      const first = from / 2;
      const values = data.subarray(first, first + codes.length);
      const inside = quantizeBlock(values, codes, lo, hi, perUnit);
      if (!inside) {
        const at = data.subarray(first, first + codes.length).findIndex((x) => !(x >= lo && x <= hi));
        throw new InputError(
          path,
          `voxel ${first + at} is ${data[first + at]}, outside the range [${lo}, ${hi}] its 16-bit codes were to cover`,
        );
      }
      return new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength);
    },
  };
}

/**
 * Writes `v` as NIfTI-1 at `path` (gzip-compressed when `gz`): the header from
 * `encodeNiftiHeader`, the voxels as they are in memory (little-endian, no copy), compressed on
 * all cores by native zlib (`gzipParts`). The caller names a temporary path and renames it.
 */
export async function writeNifti(
  v: Volume,
  path: string,
  gz: boolean,
  options: NiftiWriteOptions = {},
  /** The file errors name: the target, when `path` is its temporary. */
  named = path,
): Promise<void> {
  const header = encodeNiftiHeader(named, v, options);
  const voxels: GzipPart = options.quantize
    ? quantizedVoxels(v, named, options.quantize.range)
    : new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  const file = await open(path, 'w');
  try {
    const write = async (chunk: Uint8Array) => {
      // A write may take fewer bytes than asked (some file systems), and one call takes at most
      // 2 GiB − 1: an uncompressed volume over that (1024³ float32) goes in 1 GiB pieces.
      for (let at = 0; at < chunk.byteLength; )
        at += (await file.write(chunk, at, Math.min(chunk.byteLength - at, WRITE_PIECE))).bytesWritten;
    };
    if (gz)
      await gzipParts([header, voxels], write, {
        level: 1,
        strategy: deflateStrategy(v),
        ...(options.quantize ? { storeBlock: denseCodes } : {}),
      });
    else {
      await write(header);
      if (voxels instanceof Uint8Array) await write(voxels);
      else
        for (let at = 0, scratch = new Uint8Array(8 << 20); at < voxels.byteLength; at += scratch.byteLength)
          await write(voxels.produce(at, Math.min(voxels.byteLength, at + scratch.byteLength), scratch));
    }
  } finally {
    await file.close();
  }
}
