import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip, inflateRawSync } from 'node:zlib';
import { InputError } from '../util/errors.js';

/** What a NIfTI-1/2 header says, enough to reject a bad file before ITK (which zero-fills some). */
export interface NiftiHeaderInfo {
  version: 1 | 2;
  /** dim[1..dim[0]] */
  dims: number[];
  /** pixdim[1..dim[0]] */
  pixdim: number[];
  bytesPerVoxel: number;
  /** NIfTI datatype code (16 float32, 64 float64, …). */
  datatype: number;
  littleEndian: boolean;
  voxOffset: number;
  qformCode: number;
  sformCode: number;
  sclSlope: number;
  sclInter: number;
  /** pixdim[0]: the qform's handedness factor. */
  qfac: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z (RAS). */
  srow: number[][];
  /** The fixed header bytes (348 or 540), for a header-only copy. */
  header: Buffer;
  /** Whether the file is gzip-compressed. */
  gz: boolean;
}

/** Bytes per voxel of each scalar NIfTI datatype (uint8 … float64). */
export const NIFTI_SCALAR_BYTES: Readonly<Record<number, number>> = {
  2: 1,
  4: 2,
  8: 4,
  16: 4,
  64: 8,
  256: 1,
  512: 2,
  768: 4,
  1024: 8,
  1280: 8,
};
const BYTES = NIFTI_SCALAR_BYTES;

export function parseNiftiHeader(source: string, h: Buffer): NiftiHeaderInfo {
  if (h.length < 348) throw new InputError(source, `not a NIfTI file: header is ${h.length} bytes, needs 348`);
  for (const little of [true, false]) {
    const i32 = (o: number) => (little ? h.readInt32LE(o) : h.readInt32BE(o));
    const sizeofHdr = i32(0);
    if (sizeofHdr === 348) {
      const magic = h.toString('latin1', 344, 347);
      if (magic !== 'n+1' && magic !== 'ni1')
        throw new InputError(source, `not a NIfTI-1 file: magic is ${JSON.stringify(magic)}`);
      const i16 = (o: number) => (little ? h.readInt16LE(o) : h.readInt16BE(o));
      const f32 = (o: number) => (little ? h.readFloatLE(o) : h.readFloatBE(o));
      const ndim = i16(40);
      return finish(
        source,
        {
          version: 1,
          dims: Array.from({ length: Math.max(0, Math.min(ndim, 7)) }, (_, k) => i16(42 + 2 * k)),
          pixdim: Array.from({ length: Math.max(0, Math.min(ndim, 7)) }, (_, k) => f32(80 + 4 * k)),
          bytesPerVoxel: BYTES[i16(70)] ?? i16(72) / 8,
          datatype: i16(70),
          littleEndian: little,
          voxOffset: f32(108),
          qformCode: i16(252),
          sformCode: i16(254),
          sclSlope: f32(112),
          sclInter: f32(116),
          qfac: f32(76),
          quatern: [f32(256), f32(260), f32(264)],
          qoffset: [f32(268), f32(272), f32(276)],
          srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))),
          header: Buffer.from(h.subarray(0, 348)),
          gz: false,
        },
        ndim,
      );
    }
    if (sizeofHdr === 540) {
      if (h.length < 540) throw new InputError(source, 'NIfTI-2 header is truncated');
      const i64 = (o: number) => Number(little ? h.readBigInt64LE(o) : h.readBigInt64BE(o));
      const f64 = (o: number) => (little ? h.readDoubleLE(o) : h.readDoubleBE(o));
      const i16 = (o: number) => (little ? h.readInt16LE(o) : h.readInt16BE(o));
      const i32b = (o: number) => (little ? h.readInt32LE(o) : h.readInt32BE(o));
      const ndim = i64(16);
      return finish(
        source,
        {
          version: 2,
          dims: Array.from({ length: Math.max(0, Math.min(ndim, 7)) }, (_, k) => i64(24 + 8 * k)),
          pixdim: Array.from({ length: Math.max(0, Math.min(ndim, 7)) }, (_, k) => f64(112 + 8 * k)),
          bytesPerVoxel: BYTES[i16(12)] ?? i16(14) / 8,
          datatype: i16(12),
          littleEndian: little,
          voxOffset: i64(168),
          qformCode: i32b(344),
          sformCode: i32b(348),
          sclSlope: f64(176),
          sclInter: f64(184),
          qfac: f64(104),
          quatern: [f64(352), f64(360), f64(368)],
          qoffset: [f64(376), f64(384), f64(392)],
          srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c))),
          header: Buffer.from(h.subarray(0, 540)),
          gz: false,
        },
        ndim,
      );
    }
  }
  throw new InputError(source, 'not a NIfTI file: the header does not start with 348 or 540 (wrong magic)');
}

function finish(source: string, info: NiftiHeaderInfo, ndim: number): NiftiHeaderInfo {
  if (ndim < 1 || ndim > 7) throw new InputError(source, `NIfTI header has ${ndim} dimensions (must be 1–7)`);
  if (info.dims.some((d) => d < 1))
    throw new InputError(source, `NIfTI header has a zero or negative size ${JSON.stringify(info.dims)}`);
  const spatial = info.pixdim.slice(0, 3);
  if (spatial.some((p) => !Number.isFinite(p) || p <= 0))
    throw new InputError(source, `zero or negative spacing ${JSON.stringify(spatial)} in the NIfTI header (pixdim)`);
  return info;
}

/** Bytes the header promises: offset + every voxel of every volume. */
export function niftiExpectedBytes(info: NiftiHeaderInfo): number {
  const headerEnd = info.version === 1 ? 348 : 540;
  return Math.max(info.voxOffset, headerEnd) + info.dims.reduce((a, b) => a * b, 1) * info.bytesPerVoxel;
}

/**
 * Checks a .nii or .nii.gz before ITK reads it: magic, sizes, and that the file (or the gzip
 * stream) holds all the voxels the header promises. ITK silently zero-fills a truncated gzip
 * stream, so the gzip trailer's ISIZE (uncompressed length mod 2³²) is compared with the header.
 */
export async function checkNifti(path: string, options: { scanFloats?: boolean } = {}): Promise<NiftiHeaderInfo> {
  const scan = options.scanFloats ?? true;
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) throw new InputError(path, 'file is empty');
    const head = Buffer.alloc(Math.min(size, 65536));
    await handle.read(head, 0, head.length, 0);
    const gz = head[0] === 0x1f && head[1] === 0x8b;
    if (!gz) {
      const info = parseNiftiHeader(path, head);
      const expected = niftiExpectedBytes(info);
      if (size < expected)
        throw new InputError(path, `file is truncated: ${size} bytes, the header promises ${expected}`);
      if (scan) await checkFloatsFinite(path, info);
      return info;
    }
    if (size < 18) throw new InputError(path, 'truncated gzip stream (shorter than a gzip header and trailer)');
    const header = gunzipPrefix(path, head, 540);
    const info = { ...parseNiftiHeader(path, header), gz: true };
    const trailer = Buffer.alloc(4);
    await handle.read(trailer, 0, 4, size - 4);
    const isize = trailer.readUInt32LE(0);
    const expected = niftiExpectedBytes(info);
    if (isize === expected % 2 ** 32) {
      if (scan) await checkFloatsFinite(path, info);
      return info;
    }
    // A truncated stream ends in compressed bytes, not a trailer; inflate it all to be sure.
    if (!(await gzipComplete(path)))
      throw new InputError(path, `truncated gzip stream (the header promises ${expected} bytes of image)`);
    if (isize < expected % 2 ** 32)
      throw new InputError(path, `file holds ${isize} bytes of image, the header promises ${expected}`);
    return info;
  } finally {
    await handle.close();
  }
}

/** The first `want` uncompressed bytes of a gzip file (header fields skipped by hand). */
function gunzipPrefix(path: string, head: Buffer, want: number): Buffer {
  const flags = head[3] ?? 0;
  let p = 10;
  if (flags & 4) p += 2 + head.readUInt16LE(p);
  if (flags & 8) while (p < head.length && head[p++] !== 0);
  if (flags & 16) while (p < head.length && head[p++] !== 0);
  if (flags & 2) p += 2;
  try {
    return inflateRawSync(head.subarray(p), { finishFlush: 2 /* Z_SYNC_FLUSH: accept a partial stream */ }).subarray(
      0,
      want,
    );
  } catch (error) {
    throw new InputError(path, `corrupt gzip stream: ${(error as Error).message}`);
  }
}

/** Inflates the whole stream, for the rare file whose ISIZE disagrees but may still be complete. */
async function gzipComplete(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const gunzip = createGunzip();
    gunzip.on('data', () => {});
    gunzip.on('end', () => resolve(true));
    gunzip.on('error', () => resolve(false));
    createReadStream(path)
      .on('error', () => resolve(false))
      .pipe(gunzip);
  });
}

/**
 * ITK turns NaN voxels of a float NIfTI into 0 without a word, so float files are scanned here,
 * streaming, before ITK reads them (integer files cannot hold non-finite values).
 */
export async function checkFloatsFinite(path: string, info: NiftiHeaderInfo): Promise<void> {
  const gz = info.gz;
  const width = info.datatype === 16 ? 4 : info.datatype === 64 ? 8 : 0;
  if (width === 0) return;
  const start = Math.max(info.voxOffset, info.version === 1 ? 348 : 540);
  const total = info.dims.reduce((a, b) => a * b, 1);
  let offset = 0;
  let carry: Buffer = Buffer.alloc(0);
  let count = 0;
  let first = -1;
  const stream = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  for await (const piece of stream as AsyncIterable<Buffer>) {
    let chunk: Buffer = carry.length ? Buffer.concat([carry, piece]) : piece;
    let at = 0;
    if (offset < start) {
      at = Math.min(chunk.length, start - offset);
    }
    const voxels = Math.floor((chunk.length - at) / width);
    for (let v = 0; v < voxels; v++) {
      const p = at + v * width;
      const x =
        width === 4
          ? info.littleEndian
            ? chunk.readFloatLE(p)
            : chunk.readFloatBE(p)
          : info.littleEndian
            ? chunk.readDoubleLE(p)
            : chunk.readDoubleBE(p);
      if (!Number.isFinite(x)) {
        if (first < 0) first = (offset + p - start) / width;
        count++;
      }
    }
    const used = at + voxels * width;
    offset += used;
    carry = chunk.subarray(used);
    chunk = carry;
    if ((offset - start) / width >= total) break;
  }
  if (count === 0) return;
  const [nx = 1, ny = 1, nz = 1] = info.dims;
  const idx = [first % nx, Math.floor(first / nx) % ny, Math.floor(first / (nx * ny)) % nz];
  throw new InputError(path, `${count} non-finite voxel(s) (NaN or Inf), the first at index [${idx.join(', ')}]`);
}
