import { randomBytes } from 'node:crypto';
import { open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Image } from 'itk-wasm';
import { InputError } from '../util/errors.js';
import { niftiGeometry } from './nifti-geometry.js';
import type { NiftiHeaderInfo } from './nifti-header.js';
import { type VoxelArray, voxelType } from './types.js';

/** Volumes larger than this inflate in pieces and are copied (zlib allocates each chunk whole). */
const MAX_CHUNK = 1 << 30;

/**
 * The `length` voxel bytes that start `skip` bytes into the (inflated) file, in memory of their
 * own whose offset suits `align`-byte voxels; null when the file holds fewer.
 *
 * Gzip: zlib gets one output buffer the size of header plus voxels, so every chunk it emits is
 * a slice of that buffer and the voxels are already in place: no copy and no second buffer to
 * fault in, which on this VM costs as much as a memcpy (bench/read-volume: 1.24 s against
 * 1.45 s copying 4 MiB chunks into a separate array). Reading overlaps inflating because the
 * file is streamed. Anything unexpected (chunks not contiguous, a misaligned voxel offset)
 * falls back to copying.
 */
export async function voxelBytes(
  path: string,
  gz: boolean,
  skip: number,
  length: number,
  align: number,
  maxChunk = MAX_CHUNK,
  readBytes = READ_BYTES,
): Promise<Uint8Array | null> {
  if (!gz) return readPlain(path, skip, length);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    total = await inflateInto(path, readBytes, Math.min(skip + length, maxChunk), skip + length, (chunk) =>
      chunks.push(chunk),
    );
  } catch (error) {
    throw new InputError(path, `corrupt compressed data: ${(error as Error).message}`);
  }
  if (total < skip + length) return null;
  const first = chunks[0]!;
  const inPlace = chunks.every(
    (c, k) =>
      k === 0 || (c.buffer === first.buffer && c.byteOffset === chunks[k - 1]!.byteOffset + chunks[k - 1]!.length),
  );
  if (inPlace && (first.byteOffset + skip) % align === 0)
    return new Uint8Array(first.buffer, first.byteOffset + skip, length);
  const out = new Uint8Array(length);
  let seen = 0;
  for (const chunk of chunks) {
    const from = Math.max(0, skip - seen);
    const to = Math.min(chunk.length, skip + length - seen);
    if (to > from) out.set(chunk.subarray(from, to), seen + from - skip);
    seen += chunk.length;
  }
  return out;
}

/** Compressed bytes read per step (two buffers of it take turns). */
const READ_BYTES = 4 << 20;

/**
 * Inflates the gzip file at `path` until `wanted` bytes have come out (or the file ends), handing
 * zlib's output chunks to `take`; returns how many bytes came out. The compressed file is read
 * into two buffers that take turns, each refilled once zlib has consumed it: a read stream would
 * allocate every 4 MiB piece afresh, and on a CT that is 86 MB more memory to fault in
 * (bench/ct-end-to-end counts the faults per stage).
 */
async function inflateInto(
  path: string,
  readBytes: number,
  chunkSize: number,
  wanted: number,
  take: (chunk: Buffer) => void,
): Promise<number> {
  const gunzip = createGunzip({ chunkSize });
  let total = 0;
  gunzip.on('data', (chunk: Buffer) => {
    take(chunk);
    total += chunk.length;
  });
  // zlib reports corrupt data as an 'error' event, after which a pending write's callback may
  // never come: every wait on zlib is therefore also a wait for that event.
  let failure: Error | null = null;
  let failed: ((error: Error) => void) | null = null;
  gunzip.on('error', (error) => {
    failure = error;
    failed?.(error);
  });
  const zlibStep = (start: (done: (error?: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      failed = reject;
      start((error) => {
        failed = null;
        if (error) reject(error);
        else resolve();
      });
    });
  const handle = await open(path, 'r');
  let reading: Promise<{ bytesRead: number }> | null = null;
  try {
    const buffers = [Buffer.allocUnsafe(readBytes), Buffer.allocUnsafe(readBytes)];
    // While zlib inflates one buffer the next is read into the other.
    reading = handle.read(buffers[0]!, 0, readBytes, 0);
    for (let k = 0, position = 0; total < wanted; k ^= 1) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      position += bytesRead;
      const bytes = buffers[k]!.subarray(0, bytesRead);
      const inflating = zlibStep((done) => gunzip.write(bytes, done));
      reading = handle.read(buffers[k ^ 1]!, 0, readBytes, position);
      await inflating;
    }
    // The file ended first: ending the stream makes zlib say whether it was cut short.
    if (total < wanted)
      await zlibStep((done) => {
        gunzip.once('end', () => done());
        gunzip.end();
      });
    return total;
  } finally {
    gunzip.destroy();
    // A read still in flight (zlib failed meanwhile) settles before the file closes.
    await reading?.catch(() => undefined);
    await handle.close();
  }
}

/** An uncompressed file's voxel bytes, read straight into their array. */
async function readPlain(path: string, skip: number, length: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(length);
  const handle = await open(path, 'r');
  try {
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(out, filled, length - filled, skip + filled);
      if (bytesRead === 0) return null;
      filled += bytesRead;
    }
    return out;
  } finally {
    await handle.close();
  }
}

const ARRAYS: Record<number, new (buffer: ArrayBuffer, offset: number, length: number) => VoxelArray> = {
  2: Uint8Array,
  4: Int16Array,
  8: Int32Array,
  16: Float32Array,
  64: Float64Array,
  256: Int8Array,
  512: Uint16Array,
  768: Uint32Array,
};

/**
 * Reads a plain little-endian NIfTI with voxels from Node's native zlib. The geometry comes from
 * the header when qform and sform agree (`niftiGeometry`), else from ITK reading a header-only
 * copy, so it is what a full ITK read gives either way; the voxels are the file's bytes, inflated by native zlib on libuv's
 * thread pool, faster than ITK's WebAssembly zlib and with about half its memory. Integer codes
 * with scl_slope/scl_inter are rescaled to float32. Returns null for anything else (scaled floats,
 * big-endian, vector or unusual files): the caller then uses ITK.
 */
export async function readNiftiFast(path: string, info: NiftiHeaderInfo): Promise<Image | null> {
  const Ctor = ARRAYS[info.datatype];
  const scaled = info.sclSlope !== 0 && !(info.sclSlope === 1 && info.sclInter === 0);
  // Scaled integer codes (heatmaps, some CT) become float32 as ITK makes them; scaled floats, and a
  // non-finite slope or intercept (whose meaning readers disagree on), are left to ITK.
  const floatStored = Ctor === Float32Array || Ctor === Float64Array;
  const oddScaling = scaled && !(Number.isFinite(info.sclSlope) && Number.isFinite(info.sclInter));
  if (!Ctor || !info.littleEndian || (scaled && floatStored) || oddScaling || info.dims.length > 4) return null;
  const image = headerGeometry(info, scaled) ?? (await itkHeaderGeometry(info));
  if (!image) return null;
  const start = Math.max(info.voxOffset, info.version === 1 ? 348 : 540);
  const count = info.dims.reduce((a, b) => a * b, 1);
  const bytes = await voxelBytes(path, info.gz, start, count * info.bytesPerVoxel, info.bytesPerVoxel);
  if (!bytes) return null;
  const stored: VoxelArray = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  const data = scaled ? rescaled(stored, info.sclSlope, info.sclInter) : stored;
  if (image.imageType.componentType !== voxelType(data) || image.imageType.components !== 1) return null;
  image.data = data;
  return image;
}

/** value = code · slope + inter in float64, rounded to float32: what ITK's NIfTI reader gives. */
function rescaled(codes: VoxelArray, slope: number, inter: number): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i]! * slope + inter;
  return out;
}

/** An itk-wasm Image (no voxels yet) from the header alone, when it is unambiguous; float32 when `scaled`. */
function headerGeometry(info: NiftiHeaderInfo, scaled: boolean): Image | null {
  const g = niftiGeometry(info);
  const Ctor = ARRAYS[info.datatype];
  if (!g || !Ctor) return null;
  const dimension = info.dims.length === 4 ? 4 : 3;
  const componentType = scaled ? 'float32' : voxelType(new Ctor(new ArrayBuffer(8), 0, 1));
  const pad = (xs: number[], fill: number) => [...xs, fill, fill, fill, fill].slice(0, dimension);
  const direction = new Float64Array(dimension * dimension);
  for (let r = 0; r < dimension; r++)
    for (let c = 0; c < dimension; c++)
      direction[r * dimension + c] = r < 3 && c < 3 ? g.direction[r * 3 + c]! : r === c ? 1 : 0;
  // A plain object of itk-wasm's Image shape: the fast path then never loads itk-wasm (a tenth of
  // a second, the first read of every process).
  const image: Image = {
    imageType: {
      dimension,
      componentType: componentType as Image['imageType']['componentType'],
      pixelType: 'Scalar',
      components: 1,
    },
    name: 'Image',
    origin: pad([...g.origin], 0),
    spacing: pad([...g.spacing, info.pixdim[3] ?? 1], 1),
    direction,
    size: pad(info.dims, 1),
    metadata: new Map(),
    data: null,
  };
  return image;
}

/**
 * ITK's geometry from a header-only copy of the file. The copy claims at most 2 voxels per axis:
 * geometry does not depend on the size, and ITK allocates the whole image even when asked for
 * information only (about 1.2 s for 512×512×300). The true size is put back afterwards.
 */
async function itkHeaderGeometry(info: NiftiHeaderInfo): Promise<Image | null> {
  const tmp = join(tmpdir(), `anymc3d-header-${randomBytes(6).toString('hex')}.nii`);
  const header = Buffer.from(info.header);
  info.dims.forEach((n, k) => {
    if (info.version === 1) header.writeInt16LE(Math.min(n, 2), 42 + 2 * k);
    else header.writeBigInt64LE(BigInt(Math.min(n, 2)), 24 + 8 * k);
  });
  try {
    // The fixed header plus an empty extension flag: nothing else is needed for the geometry.
    await writeFile(tmp, Buffer.concat([header, Buffer.alloc(4)]));
    const { readImageNode } = await import('@itk-wasm/image-io');
    const image = await readImageNode(tmp, { informationOnly: true });
    image.size = image.size.map((_, k) => info.dims[k] ?? 1);
    return image;
  } catch {
    return null;
  } finally {
    await rm(tmp, { force: true });
  }
}
