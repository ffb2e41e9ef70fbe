import type { DType, Tensor } from '../graph/tensor.js';
import { numel } from '../graph/tensor.js';
import { InputError } from '../util/errors.js';

/**
 * The safetensors format (Hugging Face): 8-byte little-endian header length, a JSON header
 * mapping names to {dtype, shape, data_offsets}, then the raw little-endian data.
 */

const TO_ST: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  int64: 'I64',
  int32: 'I32',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const BYTES: Record<string, number> = {
  F32: 4,
  F64: 8,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name]!;
    const dtype = TO_ST[t.dtype];
    if (!dtype) throw new Error(`safetensors: dtype ${t.dtype} of ${name} cannot be stored`);
    header[name] = { dtype, shape: [...t.dims], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors[name]!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Half-precision bits → float32 (Node 20 has no Float16Array). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/**
 * Decodes a safetensors file. F16 and BF16 are converted to float32 explicitly; every problem is
 * an InputError naming `source`.
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) throw new InputError(source, 'not a safetensors file (shorter than its 8-byte header length)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) {
    throw new InputError(
      source,
      `not a safetensors file or truncated (header length ${headerLength}, file ${bytes.length} bytes)`,
    );
  }
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  } catch {
    throw new InputError(source, 'safetensors header is not valid JSON');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const width = BYTES[dtype];
    if (!width) throw new InputError(source, `tensor ${name} has unsupported dtype ${dtype}`);
    const [begin, end] = data_offsets;
    const n = numel(shape);
    if (end - begin !== n * width || dataStart + end > bytes.length) {
      throw new InputError(
        source,
        `tensor ${name} [${shape.join(',')}] ${dtype}: data range ${begin}..${end} is inconsistent or past the end of the file`,
      );
    }
    // Copy into an aligned buffer: offsets in the file need not be aligned for typed arrays.
    const raw = bytes.slice(dataStart + begin, dataStart + end);
    tensors.set(name, toTensor(dtype, shape, raw));
  }
  return { tensors, metadata };
}

function toTensor(dtype: string, dims: number[], raw: Uint8Array): Tensor {
  const buf = raw.buffer;
  switch (dtype) {
    case 'F32':
      return { dtype: 'float32', dims, data: new Float32Array(buf) };
    case 'F64':
      return { dtype: 'float64', dims, data: new Float64Array(buf) };
    case 'F16': {
      const h = new Uint16Array(buf);
      return { dtype: 'float32', dims, data: Float32Array.from(h, halfToFloat) };
    }
    case 'BF16': {
      const h = new Uint16Array(buf);
      const bits = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) bits[i] = h[i]! << 16;
      return { dtype: 'float32', dims, data: new Float32Array(bits.buffer) };
    }
    case 'I64':
      return { dtype: 'int64', dims, data: new BigInt64Array(buf) };
    case 'I32':
      return { dtype: 'int32', dims, data: new Int32Array(buf) };
    case 'I16':
      return { dtype: 'int32', dims, data: Int32Array.from(new Int16Array(buf)) };
    case 'I8':
      return { dtype: 'int8', dims, data: new Int8Array(buf) };
    default:
      return { dtype: dtype === 'BOOL' ? 'bool' : 'uint8', dims, data: new Uint8Array(buf) };
  }
}
