/**
 * NumPy `.npy` (format versions 1, 2 and 3) for little-endian numeric arrays in C order — the
 * exchange format for batches and reference outputs between this project, NumPy and PyTorch.
 */

export type NpyDType =
  | 'float32'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'uint32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'bool';

export type NpyData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Uint32Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

const DESCR: Record<string, NpyDType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i8': 'int64',
  '<i4': 'int32',
  '<u4': 'uint32',
  '|u1': 'uint8',
  '|i1': 'int8',
  '<u2': 'uint16',
  '<i2': 'int16',
  '|b1': 'bool',
};

/** Other spellings NumPy accepts for one-byte types (read only; `writeNpy` uses the canonical one). */
const DESCR_ALIASES: Record<string, NpyDType> = { '<u1': 'uint8', '<i1': 'int8', '<b1': 'bool' };

const BYTES: Record<NpyDType, number> = {
  float32: 4,
  float64: 8,
  int64: 8,
  int32: 4,
  uint32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  bool: 1,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Thrown for bytes that are not a supported .npy array; callers wrap it with the file name. */
export class NpyFormatError extends Error {}

function typed(dtype: NpyDType, bytes: Uint8Array): NpyData {
  // Copy so the array is aligned and independent of the file buffer (a Node Buffer's own slice is a view).
  const buf = Uint8Array.prototype.slice.call(bytes).buffer as ArrayBuffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'uint16':
      return new Uint16Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
  }
}

function field(header: string, key: string): string {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) throw new NpyFormatError(`header has no '${key}'`);
  return header.slice(m.index + m[0].length);
}

export function readNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new NpyFormatError('not a .npy file (bad magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLength = view.getUint32(8, true);
    start = 12;
  } else throw new NpyFormatError(`unsupported .npy version ${major}`);
  if (start + headerLength > bytes.length) throw new NpyFormatError('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /^['"]([^'"]+)['"]/.exec(field(header, 'descr'))?.[1];
  const dtype = descr ? (DESCR[descr] ?? DESCR_ALIASES[descr]) : undefined;
  if (!dtype) throw new NpyFormatError(`unsupported dtype '${descr}' (little-endian numeric arrays only)`);
  if (/^True/.test(field(header, 'fortran_order'))) throw new NpyFormatError('Fortran-order arrays are not supported');
  const shapeText = /^\(([^)]*)\)/.exec(field(header, 'shape'))?.[1];
  if (shapeText === undefined) throw new NpyFormatError('unreadable shape');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyFormatError(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  const byteLength = count * BYTES[dtype];
  if (bytes.length - dataStart < byteLength) {
    throw new NpyFormatError(
      `data truncated: ${bytes.length - dataStart} bytes for shape (${shape.join(', ')}) ${dtype}`,
    );
  }
  return { dtype, shape, data: typed(dtype, bytes.subarray(dataStart, dataStart + byteLength)) };
}

/** Writes a version-1 header (version 2 when the header outgrows 64 KiB), data 64-byte aligned. */
export function writeNpy(array: NpyArray): Uint8Array {
  const descr = Object.entries(DESCR).find(([, d]) => d === array.dtype)![0];
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) {
    throw new Error(`writeNpy: ${array.data.length} values for shape (${array.shape.join(', ')})`);
  }
  const shapeText = array.shape.length === 1 ? `${array.shape[0]},` : array.shape.join(', ');
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shapeText}), }`;
  let major = 1;
  let prefix = 10;
  let padded = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (padded - prefix > 0xffff) {
    major = 2;
    prefix = 12;
    padded = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const headerLength = padded - prefix;
  const header = dict + ' '.repeat(headerLength - dict.length - 1) + '\n';
  const data = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(padded + data.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.set(new TextEncoder().encode(header), prefix);
  out.set(data, padded);
  return out;
}
