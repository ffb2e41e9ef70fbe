import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { readImageNode } from '@itk-wasm/image-io';
import type { Image } from 'itk-wasm';
import type { NiftiHeaderInfo } from './nifti-header.js';
import { type VoxelArray, voxelType } from './types.js';

const gunzipAsync = promisify(gunzip);

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
 * Reads a plain little-endian NIfTI with geometry from ITK and voxels from Node's native zlib.
 * ITK computes the geometry (its qform/sform rules, LPS) from a header-only copy, so it is exactly
 * what a full ITK read gives; the voxels are the file's bytes, inflated by native zlib on libuv's
 * thread pool, faster than ITK's WebAssembly zlib and with about half its memory. Returns null
 * for anything else (scaled, big-endian, vector or unusual files): the caller then uses ITK.
 */
export async function readNiftiFast(path: string, info: NiftiHeaderInfo): Promise<Image | null> {
  const Ctor = ARRAYS[info.datatype];
  const scaled = info.sclSlope !== 0 && !(info.sclSlope === 1 && info.sclInter === 0);
  if (!Ctor || !info.littleEndian || scaled || info.dims.length > 4) return null;
  const tmp = join(tmpdir(), `anymc3d-header-${randomBytes(6).toString('hex')}.nii`);
  let image: Image;
  try {
    // The fixed header plus an empty extension flag: nothing else is needed for the geometry.
    await writeFile(tmp, Buffer.concat([info.header, Buffer.alloc(4)]));
    image = await readImageNode(tmp, { informationOnly: true });
  } catch {
    return null;
  } finally {
    await rm(tmp, { force: true });
  }
  const raw = await readFile(path);
  const bytes = info.gz ? await gunzipAsync(raw) : raw;
  const start = Math.max(info.voxOffset, info.version === 1 ? 348 : 540);
  const count = info.dims.reduce((a, b) => a * b, 1);
  const width = info.bytesPerVoxel;
  if (bytes.length < start + count * width) return null;
  // A copy into an array of its own: views at an offset trip consumers that read `.buffer`
  // whole (itk-wasm's writer does), and an own buffer can be transferred from the worker.
  const own = new ArrayBuffer(count * width);
  new Uint8Array(own).set(bytes.subarray(start, start + count * width));
  const data = new Ctor(own, 0, count);
  if (image.imageType.componentType !== voxelType(data) || image.imageType.components !== 1) return null;
  image.data = data;
  return image;
}
