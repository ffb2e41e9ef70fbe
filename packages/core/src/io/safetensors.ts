import { readFile } from 'node:fs/promises';
import type { DType, Tensor } from '../graph/tensor.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * mapping each tensor name to {dtype, shape, data_offsets}, then the raw little-endian data.
 *
 * Reading is lazy: `parseSafetensors` only checks the header, and a tensor is decoded (copied into
 * its own aligned buffer) when asked for, so a large backbone's weights are converted one at a time.
 * F16 and BF16 arrive as raw 16-bit words in Node 20 and are widened to float32 explicitly.
 */

export interface SafetensorsEntry {
  /** The dtype code as stored (F32, F16, BF16, I64, …). */
  dtype: string;
  shape: number[];
  /** Byte range in the data section. */
  offsets: [number, number];
}

export interface SafetensorsFile {
  /** The file the tensors came from (for error messages). */
  source: string;
  entries: ReadonlyMap<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  has(name: string): boolean;
  /** Tensor `name` in its stored type (F16/BF16 widened to float32, I16 to int32). */
  tensor(name: string): Tensor;
  /** Tensor `name` as float32 (F32/F16/BF16/F64); an InputError naming the key otherwise. */
  float32(name: string): Tensor;
  /** Every tensor, decoded. */
  tensors(): Map<string, Tensor>;
}

const ITEM_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

const FLOAT_CODES = ['F32', 'F16', 'BF16', 'F64'];

const DTYPE_CODE: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  int64: 'I64',
  int32: 'I32',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

/** Largest header accepted: a corrupt length must not make us decode gigabytes as JSON. */
const MAX_HEADER_BYTES = 100 * 2 ** 20;

/** Half-precision bits → number (Node 20 has no Float16Array). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** A copy with its own buffer: offsets in the file need not be aligned for typed arrays. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return Uint8Array.prototype.slice.call(bytes).buffer as ArrayBuffer;
}

function widen16(dtype: 'F16' | 'BF16', raw: Uint8Array): Float32Array {
  const words = new Uint16Array(ownBuffer(raw));
  if (dtype === 'F16') return Float32Array.from(words, halfToFloat);
  // bfloat16 is the top half of a float32.
  const bits = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) bits[i] = words[i]! << 16;
  return new Float32Array(bits.buffer);
}

function decode(dtype: string, dims: number[], raw: Uint8Array): Tensor {
  switch (dtype) {
    case 'F32':
      return { dtype: 'float32', dims, data: new Float32Array(ownBuffer(raw)) };
    case 'F64':
      return { dtype: 'float64', dims, data: new Float64Array(ownBuffer(raw)) };
    case 'F16':
    case 'BF16':
      return { dtype: 'float32', dims, data: widen16(dtype, raw) };
    case 'I64':
      return { dtype: 'int64', dims, data: new BigInt64Array(ownBuffer(raw)) };
    case 'I32':
      return { dtype: 'int32', dims, data: new Int32Array(ownBuffer(raw)) };
    case 'I16':
      return { dtype: 'int32', dims, data: Int32Array.from(new Int16Array(ownBuffer(raw))) };
    case 'I8':
      return { dtype: 'int8', dims, data: new Int8Array(ownBuffer(raw)) };
    default:
      return { dtype: dtype === 'BOOL' ? 'bool' : 'uint8', dims, data: new Uint8Array(ownBuffer(raw)) };
  }
}

/** Checks the header of a safetensors file; every problem is an InputError naming `source`. */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) throw new InputError(source, 'not a safetensors file (shorter than its 8-byte header length)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength <= 0 || headerLength > bytes.length - 8 || headerLength > MAX_HEADER_BYTES) {
    throw new InputError(
      source,
      `not a safetensors file or truncated (header length ${headerLength}, file ${bytes.length} bytes)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw new InputError(source, 'not a safetensors file (header is not JSON)', { cause: error });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new InputError(source, 'not a safetensors file (header is not a JSON object)');
  }
  const dataStart = 8 + headerLength;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = (raw ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e.shape as number[];
    const offsets = e.data_offsets as [number, number];
    const dtype = String(e.dtype);
    const itemBytes = ITEM_BYTES[dtype];
    if (!Array.isArray(shape) || !Array.isArray(offsets) || offsets.length !== 2 || itemBytes === undefined) {
      throw new InputError(source, `tensor "${name}": unsupported header entry ${JSON.stringify(raw)}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count * itemBytes || offsets[0] < 0 || dataStart + offsets[1] > bytes.length) {
      throw new InputError(
        source,
        `tensor "${name}": data offsets [${offsets.join(', ')}] do not fit ${dtype} [${shape.join(', ')}] or the file (truncated?)`,
      );
    }
    entries.set(name, { dtype, shape: [...shape], offsets: [offsets[0], offsets[1]] });
  }
  const entry = (name: string): SafetensorsEntry => {
    const e = entries.get(name);
    if (!e) throw new InputError(source, `tensor "${name}" is missing`);
    return e;
  };
  const tensor = (name: string): Tensor => {
    const e = entry(name);
    return decode(e.dtype, [...e.shape], bytes.subarray(dataStart + e.offsets[0], dataStart + e.offsets[1]));
  };
  return {
    source,
    entries,
    metadata,
    has: (name) => entries.has(name),
    tensor,
    float32(name: string): Tensor {
      const e = entry(name);
      if (!FLOAT_CODES.includes(e.dtype)) {
        throw new InputError(
          source,
          `tensor "${name}" has dtype ${e.dtype}; a float type (${FLOAT_CODES.join(', ')}) is expected`,
        );
      }
      const t = tensor(name);
      return t.dtype === 'float32'
        ? t
        : { dtype: 'float32', dims: t.dims, data: Float32Array.from(t.data as Float64Array) };
    },
    tensors: () => new Map([...entries.keys()].map((name) => [name, tensor(name)])),
  };
}

/** Decodes every tensor at once (small files: features, plugins, checkpoints). */
export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const file = parseSafetensors(bytes, source);
  return { tensors: file.tensors(), metadata: file.metadata };
}

/** Serialises tensors sorted by name, the data 8-byte aligned (the header padded with spaces, as the reference writer does). */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const list = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)) as [string, Tensor][];
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    const code = DTYPE_CODE[t.dtype];
    if (!code) throw new Error(`safetensors: dtype ${t.dtype} of "${name}" cannot be stored`);
    header[name] = { dtype: code, shape: [...t.dims], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of list) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Reads `path` and checks its header (tensors are decoded on demand). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InputError(
      path,
      `cannot read safetensors file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      { cause: error },
    );
  }
  return parseSafetensors(bytes, path);
}

/** Writes `tensors` to `path` atomically (temp file + rename). */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
