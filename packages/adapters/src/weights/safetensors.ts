import { readFile } from 'node:fs/promises';
import { InputError } from '@anymc3d/core';
import type { DType, Tensor } from '@anymc3d/core/graph';

/**
 * safetensors: an 8-byte little-endian header length, a JSON header mapping each tensor name to
 * {dtype, shape, data_offsets}, then the raw little-endian data. Floats are returned as float32:
 * F16 and BF16 arrive as raw 16-bit words in Node 20 and are widened here explicitly.
 */

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  offsets: [number, number];
}

export interface SafetensorsFile {
  /** The file the tensors came from (for error messages). */
  source: string;
  entries: ReadonlyMap<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Tensor `name` as float32 (F32/F16/BF16/F64) — throws an InputError naming the key otherwise. */
  float32(name: string): Tensor;
  has(name: string): boolean;
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

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function toFloat32(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const wide = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) wide[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new Error(`not a float dtype: ${dtype}`);
  }
}

export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) throw new InputError(source, 'not a safetensors file (shorter than its 8-byte header length)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || headerLength > 100 * 2 ** 20) {
    throw new InputError(source, `not a safetensors file (header length ${headerLength} exceeds the file)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw new InputError(source, 'not a safetensors file (header is not JSON)', { cause: error });
  }
  const dataStart = 8 + headerLength;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e.shape as number[];
    const offsets = e.data_offsets as [number, number];
    const dtype = String(e.dtype);
    const itemBytes = ITEM_BYTES[dtype];
    if (!Array.isArray(shape) || !Array.isArray(offsets) || itemBytes === undefined) {
      throw new InputError(source, `tensor "${name}": unsupported header entry ${JSON.stringify(raw)}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count * itemBytes || dataStart + offsets[1] > bytes.length) {
      throw new InputError(
        source,
        `tensor "${name}": data offsets [${offsets.join(', ')}] do not fit ${dtype} [${shape.join(', ')}] or the file (truncated?)`,
      );
    }
    entries.set(name, { dtype, shape: [...shape], offsets });
  }
  return {
    source,
    entries,
    metadata,
    has: (name) => entries.has(name),
    float32(name: string): Tensor {
      const e = entries.get(name);
      if (!e) throw new InputError(source, `tensor "${name}" is missing`);
      if (!['F32', 'F16', 'BF16', 'F64'].includes(e.dtype)) {
        throw new InputError(
          source,
          `tensor "${name}" has dtype ${e.dtype}; a float type (F32, F16, BF16, F64) is expected`,
        );
      }
      const count = e.shape.reduce((a, b) => a * b, 1);
      const data = toFloat32(e.dtype, bytes.subarray(dataStart + e.offsets[0], dataStart + e.offsets[1]), count);
      return { dtype: 'float32', dims: [...e.shape], data };
    },
  };
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw new InputError(
      path,
      `cannot read safetensors file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      { cause: error },
    );
  }
  return parseSafetensors(bytes, path);
}

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

/** Serialises tensors (in the given order) with 8-byte aligned data, as the reference writer does. */
export function writeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list: [string, Tensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    const code = DTYPE_CODE[t.dtype];
    if (!code) throw new Error(`writeSafetensors: dtype ${t.dtype} of "${name}" has no safetensors code`);
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
