import { InputError } from '../util/errors.js';
import type { VoxelArray } from '../volume/types.js';

/** One `.npy` array: its dtype as numpy spells it, shape, and data in C (row-major) order. */
export interface NpyArray {
  dtype: string;
  shape: number[];
  data: VoxelArray;
}

const CTORS: Record<string, new (buffer: ArrayBuffer, offset: number, length: number) => VoxelArray> = {
  '|u1': Uint8Array,
  '|i1': Int8Array,
  '<u1': Uint8Array,
  '<i1': Int8Array,
  '<i2': Int16Array,
  '<u2': Uint16Array,
  '<i4': Int32Array,
  '<u4': Uint32Array,
  '<f4': Float32Array,
  '<f8': Float64Array,
};

/** Parses an .npy (format 1.0–3.0; little-endian numeric dtypes, C order). `source` names it in errors. */
export function parseNpy(source: string, bytes: Uint8Array): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new InputError(source, 'not an .npy array (wrong magic)');
  const major = buf[6]!;
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined)
    throw new InputError(source, `unreadable .npy header ${JSON.stringify(header)}`);
  if (fortran === 'True') throw new InputError(source, 'Fortran-ordered .npy arrays are not supported');
  const Ctor = CTORS[descr];
  if (!Ctor) throw new InputError(source, `unsupported .npy dtype ${descr}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const width = Number(descr.slice(2));
  if (buf.length - start < count * width)
    throw new InputError(
      source,
      `truncated .npy: ${buf.length - start} data bytes, shape ${JSON.stringify(shape)} needs ${count * width}`,
    );
  // Copy into an aligned buffer of its own (the zip entry's offset is rarely aligned).
  const own = new Uint8Array(count * width);
  own.set(buf.subarray(start, start + count * width));
  return { dtype: descr, shape, data: new Ctor(own.buffer, 0, count) };
}
