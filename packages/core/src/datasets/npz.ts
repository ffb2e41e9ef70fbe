import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { type NpyArray, NpyFormatError, readNpy } from '../io/npy.js';
import { InputError } from '../util/errors.js';
import type { Volume, VoxelArray } from '../volume/types.js';

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The central directory of a zip (Zip64 sizes included, as numpy writes them). */
function zipEntries(source: string, buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let p = buf.length - 22; p >= Math.max(0, buf.length - 65557); p--)
    if (buf.readUInt32LE(p) === 0x06054b50) {
      eocd = p;
      break;
    }
  if (eocd < 0)
    throw new InputError(source, 'not an .npz (zip) archive, or truncated: no end-of-central-directory record');
  let count = buf.readUInt16LE(eocd + 10);
  let dirOffset = buf.readUInt32LE(eocd + 16);
  if (dirOffset === 0xffffffff || count === 0xffff) {
    const locator = eocd - 20;
    if (locator < 0 || buf.readUInt32LE(locator) !== 0x07064b50) throw new InputError(source, 'corrupt Zip64 archive');
    const z64 = Number(buf.readBigUInt64LE(locator + 8));
    count = Number(buf.readBigUInt64LE(z64 + 32));
    dirOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const entries: ZipEntry[] = [];
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50)
      throw new InputError(source, 'corrupt zip central directory');
    const nameLength = buf.readUInt16LE(p + 28);
    const extraLength = buf.readUInt16LE(p + 30);
    const commentLength = buf.readUInt16LE(p + 32);
    const entry: ZipEntry = {
      name: buf.toString('utf8', p + 46, p + 46 + nameLength),
      method: buf.readUInt16LE(p + 10),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      localOffset: buf.readUInt32LE(p + 42),
    };
    // Zip64 extra field: the 0xffffffff fields follow in order size, compressed size, offset.
    let e = p + 46 + nameLength;
    const end = e + extraLength;
    while (e + 4 <= end) {
      const id = buf.readUInt16LE(e);
      const len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (entry.size === 0xffffffff) {
          entry.size = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
        if (entry.compressedSize === 0xffffffff) {
          entry.compressedSize = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
        if (entry.localOffset === 0xffffffff) entry.localOffset = Number(buf.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    entries.push(entry);
    p = end + commentLength;
  }
  return entries;
}

/**
 * Reads a NumPy `.npz` (zip of `.npy`, stored or deflated) without Python. Returns the arrays by
 * name (without the `.npy` suffix); `only` limits which members are inflated.
 */
export async function readNpz(path: string, only?: readonly string[]): Promise<Map<string, NpyArray>> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    throw new InputError(path, 'no such file');
  }
  if (buf.length === 0) throw new InputError(path, 'file is empty');
  if (buf.readUInt32LE(0) !== 0x04034b50) throw new InputError(path, 'not an .npz (zip) archive: wrong magic');
  const out = new Map<string, NpyArray>();
  for (const entry of zipEntries(path, buf)) {
    const name = entry.name.replace(/\.npy$/, '');
    if (only && !only.includes(name)) continue;
    const p = entry.localOffset;
    if (buf.readUInt32LE(p) !== 0x04034b50) throw new InputError(path, `corrupt zip entry ${entry.name}`);
    const dataStart = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
    const raw = buf.subarray(dataStart, dataStart + entry.compressedSize);
    if (raw.length < entry.compressedSize)
      throw new InputError(path, `truncated archive: member ${entry.name} is cut short`);
    let bytes: Uint8Array;
    if (entry.method === 0) bytes = raw;
    else if (entry.method === 8) {
      try {
        bytes = inflateRawSync(raw);
      } catch (error) {
        throw new InputError(path, `member ${entry.name}: corrupt deflate data (${(error as Error).message})`);
      }
    } else throw new InputError(path, `member ${entry.name}: unsupported zip compression method ${entry.method}`);
    if (bytes.length !== entry.size)
      throw new InputError(path, `member ${entry.name}: ${bytes.length} bytes, the directory says ${entry.size}`);
    try {
      out.set(name, readNpy(bytes));
    } catch (error) {
      if (error instanceof NpyFormatError)
        throw new InputError(`${path}:${entry.name}`, error.message, { cause: error });
      throw error;
    }
  }
  if (only) for (const name of only) if (!out.has(name)) throw new InputError(path, `has no member "${name}"`);
  return out;
}

export type MedMnistSplit = 'train' | 'val' | 'test';

export interface MedMnistSet {
  split: MedMnistSplit;
  /** Number of volumes, their side length, and the label of each (first label column). */
  count: number;
  side: number;
  labels: Int32Array;
  images: NpyArray & { data: VoxelArray };
}

/** One split of a MedMNIST 3D `.npz` (`<split>_images` (n, D, H, W) uint8, `<split>_labels` (n, k)). */
export async function readMedMnist(path: string, split: MedMnistSplit): Promise<MedMnistSet> {
  const arrays = await readNpz(path, [`${split}_images`, `${split}_labels`]);
  const images = arrays.get(`${split}_images`)!;
  const labels = arrays.get(`${split}_labels`)!;
  if (images.shape.length !== 4 || images.shape[1] !== images.shape[2] || images.shape[2] !== images.shape[3])
    throw new InputError(path, `${split}_images has shape ${JSON.stringify(images.shape)}, expected (n, N, N, N)`);
  if (labels.shape[0] !== images.shape[0])
    throw new InputError(path, `${split}_labels holds ${labels.shape[0]} labels for ${images.shape[0]} images`);
  if (images.data instanceof BigInt64Array || images.dtype === 'bool')
    throw new InputError(
      path,
      `${split}_images has dtype ${images.dtype}, expected a voxel type (uint8, int16, float32, …)`,
    );
  const k = labels.shape[1] ?? 1;
  const first = new Int32Array(labels.shape[0]!);
  for (let i = 0; i < first.length; i++) first[i] = Number(labels.data[i * k]);
  return {
    split,
    count: images.shape[0]!,
    side: images.shape[1]!,
    labels: first,
    images: { ...images, data: images.data },
  };
}

/**
 * Volume `index` of a MedMNIST set. The arrays are (D, H, W) in C order, so the fastest axis (W)
 * becomes i; MedMNIST carries no geometry, so spacing is 1 and the direction the identity.
 */
export function medMnistVolume(set: MedMnistSet, index: number): Volume {
  if (!Number.isInteger(index) || index < 0 || index >= set.count)
    throw new RangeError(`volume ${index} is outside 0–${set.count - 1}`);
  const n = set.side ** 3;
  const data = set.images.data.slice(index * n, (index + 1) * n);
  return {
    data,
    size: [set.side, set.side, set.side],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  };
}
