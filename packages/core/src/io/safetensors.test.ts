import { describe, expect, it } from 'vitest';
import { tensor } from '../graph/tensor.js';
import { InputError } from '../util/errors.js';
import { decodeSafetensors, encodeSafetensors, halfToFloat } from './safetensors.js';

describe('safetensors', () => {
  it('round-trips float32, int64 and metadata with an 8-byte aligned data section', () => {
    const bytes = encodeSafetensors(
      { w: tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6.5]), ids: tensor('int64', [2], [7, -1]) },
      { format: 'pt' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const file = decodeSafetensors(bytes, 'x.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.tensors.get('w')!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(file.tensors.get('w')!.dims).toEqual([2, 3]);
    expect(Array.from(file.tensors.get('ids')!.data as BigInt64Array)).toEqual([7n, -1n]);
  });

  it('converts F16 and BF16 words to float32', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.33325, 5);
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
    });
    const hb = Buffer.from(header);
    const bytes = new Uint8Array(8 + hb.length + 6);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(hb.length), true);
    bytes.set(hb, 8);
    new DataView(bytes.buffer).setUint16(8 + hb.length, 0x3c00, true);
    new DataView(bytes.buffer).setUint16(8 + hb.length + 2, 0xbc00, true);
    new DataView(bytes.buffer).setUint16(8 + hb.length + 4, 0x4049, true); // bf16 ≈ 3.140625
    const file = decodeSafetensors(bytes, 'h.safetensors');
    expect(Array.from(file.tensors.get('h')!.data as Float32Array)).toEqual([1, -1]);
    expect((file.tensors.get('b')!.data as Float32Array)[0]).toBeCloseTo(3.140625, 6);
  });

  it('names the file when it is truncated or not safetensors', () => {
    const good = encodeSafetensors({ w: tensor('float32', [4], [1, 2, 3, 4]) });
    expect(() => decodeSafetensors(good.subarray(0, good.length - 3), 'cut.safetensors')).toThrow(
      /cut\.safetensors: tensor w/,
    );
    expect(() => decodeSafetensors(new Uint8Array([1, 2, 3]), 'tiny.bin')).toThrow(InputError);
    expect(() => decodeSafetensors(Buffer.from('{"not":"safetensors"} and more text'), 'j.json')).toThrow(/j\.json/);
  });
});
