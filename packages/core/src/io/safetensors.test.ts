import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '../graph/tensor.js';
import { InputError } from '../util/errors.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
} from './safetensors.js';

function withHeader(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

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

  it('reads lazily: float32 tensors and metadata by name', () => {
    const bytes = encodeSafetensors(
      new Map([
        ['a', { dtype: 'float32' as const, dims: [2, 2], data: Float32Array.from([1, -2, 3.5, 4]) }],
        ['b', { dtype: 'float32' as const, dims: [1], data: Float32Array.from([7]) }],
      ]),
      { format: 'pt' },
    );
    expect(new DataView(bytes.buffer).getBigUint64(0, true) % 8n).toBe(0n);
    const f = parseSafetensors(bytes, 'mem');
    expect(f.metadata).toEqual({ format: 'pt' });
    expect([...f.entries.keys()]).toEqual(['a', 'b']);
    expect(f.has('a') && !f.has('c')).toBe(true);
    expect(f.float32('a').dims).toEqual([2, 2]);
    expect(Array.from(f.float32('a').data as Float32Array)).toEqual([1, -2, 3.5, 4]);
    expect(Array.from(f.float32('b').data as Float32Array)).toEqual([7]);
  });

  it('converts F16 and BF16 words to float32', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.33325, 5);
    expect(halfToFloat(0x7c00)).toBe(Number.POSITIVE_INFINITY);
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

  it('widens F16 (subnormals included) and BF16 words exactly in the lazy reader', () => {
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
  });

  it('names the file when it is truncated or not safetensors', () => {
    const good = encodeSafetensors({ w: tensor('float32', [4], [1, 2, 3, 4]) });
    expect(() => decodeSafetensors(good.subarray(0, good.length - 3), 'cut.safetensors')).toThrow(
      /cut\.safetensors: tensor "w"/,
    );
    expect(() => decodeSafetensors(new Uint8Array([1, 2, 3]), 'tiny.bin')).toThrow(InputError);
    expect(() => decodeSafetensors(Buffer.from('{"not":"safetensors"} and more text'), 'j.json')).toThrow(/j\.json/);
  });

  it('names the file and the key when something is wrong', () => {
    const ok = encodeSafetensors({ a: { dtype: 'float32', dims: [2], data: new Float32Array(2) } });
    const f = parseSafetensors(ok, 'model.safetensors');
    expect(() => f.float32('nope')).toThrow('model.safetensors: tensor "nope" is missing');
    expect(() => parseSafetensors(ok.subarray(0, ok.length - 4), 'model.safetensors')).toThrow(/"a".*truncated/);
    expect(() => parseSafetensors(new Uint8Array(4), 'x.safetensors')).toThrow(/x.safetensors: not a safetensors file/);
    const ints = parseSafetensors(encodeSafetensors({ i: tensor('int32', [1], [3]) }), 'i.safetensors');
    expect(() => ints.float32('i')).toThrow(/i\.safetensors: tensor "i" has dtype I32/);
    expect(Array.from(ints.tensor('i').data as Int32Array)).toEqual([3]);
  });

  it('writes a file atomically and reads it back; a missing file is an InputError naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-st-'));
    const path = join(dir, 'w.safetensors');
    await writeSafetensors(path, { x: tensor('float64', [2], [0.5, -1]) }, { step: '3' });
    const file = await readSafetensors(path);
    expect(file.metadata).toEqual({ step: '3' });
    expect(file.tensor('x').dtype).toBe('float64');
    expect(Array.from(file.float32('x').data as Float32Array)).toEqual([0.5, -1]);
    await expect(readSafetensors(join(dir, 'none.safetensors'))).rejects.toThrow(/none\.safetensors: cannot read/);
  });
});
