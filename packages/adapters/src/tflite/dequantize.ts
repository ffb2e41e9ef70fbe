import type { TfliteTensor } from './model.js';

/**
 * The real values of a constant tensor: real = scale × (q − zero_point), with one scale per
 * tensor or one per slice along the quantised axis; float32 tensors are copied as they are.
 */
export function dequantize(t: TfliteTensor): Float32Array {
  if (!t.data) throw new Error(`tensor ${t.name} has no data to dequantise`);
  const bytes = t.data;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const read = reader(t, view);
  const size = byteSize(t);
  if (bytes.byteLength < n * size) {
    throw new Error(`tensor ${t.name}: ${bytes.byteLength} bytes for ${n} ${t.type} values`);
  }
  const out = new Float32Array(n);
  const q = t.quantization;
  if (t.type === 'float32') {
    for (let i = 0; i < n; i++) out[i] = read(i);
    return out;
  }
  if (!q) throw new Error(`tensor ${t.name} is ${t.type} without quantisation parameters`);
  if (q.scale.length === 1) {
    const s = q.scale[0]!;
    const z = q.zeroPoint[0] ?? 0;
    for (let i = 0; i < n; i++) out[i] = s * (read(i) - z);
    return out;
  }
  // Per-axis: the index along `axis` picks the scale and zero point.
  const axis = q.axis;
  const channels = t.shape[axis]!;
  if (q.scale.length !== channels) {
    throw new Error(`tensor ${t.name}: ${q.scale.length} scales for ${channels} channels on axis ${axis}`);
  }
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / inner) % channels;
    out[i] = q.scale[c]! * (read(i) - (q.zeroPoint[c] ?? 0));
  }
  return out;
}

function byteSize(t: TfliteTensor): number {
  switch (t.type) {
    case 'uint8':
    case 'int8':
      return 1;
    case 'int16':
    case 'float16':
      return 2;
    case 'int64':
      return 8;
    default:
      return 4;
  }
}

function reader(t: TfliteTensor, view: DataView): (i: number) => number {
  switch (t.type) {
    case 'uint8':
      return (i) => view.getUint8(i);
    case 'int8':
      return (i) => view.getInt8(i);
    case 'int16':
      return (i) => view.getInt16(2 * i, true);
    case 'int32':
      return (i) => view.getInt32(4 * i, true);
    case 'int64':
      return (i) => Number(view.getBigInt64(8 * i, true));
    case 'float32':
      return (i) => view.getFloat32(4 * i, true);
    default:
      throw new Error(`tensor ${t.name}: type ${t.type} cannot be dequantised`);
  }
}

/** Integer values of a constant int32/int64 tensor (e.g. a RESHAPE's shape input). */
export function integerValues(t: TfliteTensor): number[] {
  if (!t.data) return [];
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const read = reader(t, view);
  return Array.from({ length: n }, (_, i) => read(i));
}
