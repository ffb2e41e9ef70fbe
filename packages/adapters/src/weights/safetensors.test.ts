import { describe, expect, it } from 'vitest';
import { halfToFloat, parseSafetensors, writeSafetensors } from './safetensors.js';

function withHeader(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 tensors and metadata', () => {
    const bytes = writeSafetensors(
      {
        a: { dtype: 'float32', dims: [2, 2], data: Float32Array.from([1, -2, 3.5, 4]) },
        b: { dtype: 'float32', dims: [1], data: Float32Array.from([7]) },
      },
      { format: 'pt' },
    );
    expect(new DataView(bytes.buffer).getBigUint64(0, true) % 8n).toBe(0n);
    const f = parseSafetensors(bytes, 'mem');
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.float32('a').dims).toEqual([2, 2]);
    expect(Array.from(f.float32('a').data as Float32Array)).toEqual([1, -2, 3.5, 4]);
    expect(Array.from(f.float32('b').data as Float32Array)).toEqual([7]);
  });

  it('widens F16 and BF16 words explicitly', () => {
    // 1.0, -2.0, 0.5 (and a subnormal) in IEEE half; 1.0, -2.0, 3.140625 in bfloat16.
    const half = Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x0001]);
    const bf = Uint16Array.from([0x3f80, 0xc000, 0x4049]);
    const data = new Uint8Array(14);
    data.set(new Uint8Array(half.buffer), 0);
    data.set(new Uint8Array(bf.buffer), 8);
    const f = parseSafetensors(
      withHeader(
        {
          h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
          b: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] },
        },
        data,
      ),
      'mem',
    );
    expect(Array.from(f.float32('h').data as Float32Array)).toEqual([1, -2, 0.5, Math.fround(2 ** -24)]);
    expect(Array.from(f.float32('b').data as Float32Array)).toEqual([1, -2, 3.140625]);
    expect(halfToFloat(0x7c00)).toBe(Number.POSITIVE_INFINITY);
  });

  it('names the file and the key when something is wrong', () => {
    const ok = writeSafetensors({ a: { dtype: 'float32', dims: [2], data: new Float32Array(2) } });
    const f = parseSafetensors(ok, 'model.safetensors');
    expect(() => f.float32('nope')).toThrow('model.safetensors: tensor "nope" is missing');
    expect(() => parseSafetensors(ok.subarray(0, ok.length - 4), 'model.safetensors')).toThrow(/"a".*truncated/);
    expect(() => parseSafetensors(new Uint8Array(4), 'x.safetensors')).toThrow(/x.safetensors: not a safetensors file/);
  });
});
