import { readFile } from 'node:fs/promises';
import { type DType, type Tensor, tensor } from '../graph/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';

/** The safetensors format (8-byte little-endian header length, JSON header, raw little-endian data). */

const CODES: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
};
const DTYPES: Record<string, DType> = { F32: 'float32', F64: 'float64', I64: 'int64', I32: 'int32', U8: 'uint8' };

export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const code = CODES[t.dtype];
    if (!code) throw new Error(`safetensors: dtype ${t.dtype} of ${name} is not supported`);
    header[name] = { dtype: code, shape: t.dims, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new InputError(source, 'not a safetensors file (shorter than its header length)');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (8 + n > bytes.length) throw new InputError(source, 'not a safetensors file (header runs past the end)');
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    throw new InputError(source, 'safetensors header is not JSON', { cause: error });
  }
  const tensors = new Map<string, Tensor>();
  const base = 8 + n;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = DTYPES[e.dtype];
    if (!dtype) throw new InputError(source, `tensor ${name} has unsupported dtype ${e.dtype}`);
    const [b0, b1] = e.data_offsets;
    if (base + b1 > bytes.length) throw new InputError(source, `tensor ${name} runs past the end of the file`);
    // A copy with its own buffer (Node Buffers slice as views), aligned for the typed array.
    const raw = Uint8Array.prototype.slice.call(bytes, base + b0, base + b1);
    const t = tensor(dtype, e.shape, new (arrayType(dtype))(raw.buffer) as Tensor['data']);
    tensors.set(name, t);
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}

function arrayType(dtype: DType) {
  switch (dtype) {
    case 'float64':
      return Float64Array;
    case 'int64':
      return BigInt64Array;
    case 'int32':
      return Int32Array;
    case 'uint8':
      return Uint8Array;
    default:
      return Float32Array;
  }
}

export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string> = {},
) {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function readSafetensors(path: string) {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InputError(path, 'cannot read the file', { cause: error });
  }
  return decodeSafetensors(bytes, path);
}
