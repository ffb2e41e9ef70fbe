import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { readBmp } from './bmp.js';
import { normalisePixels, resizeBilinear } from './resize.js';

/** A 24-bit BI_RGB BMP written by hand: bottom-up rows, BGR, rows padded to 4 bytes. */
function bmp(width: number, height: number, rgb: (x: number, y: number) => [number, number, number]): Uint8Array {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = new Uint8Array(54 + stride * height);
  const v = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, out.length, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      const at = 54 + (height - 1 - y) * stride + 3 * x;
      out[at] = b;
      out[at + 1] = g;
      out[at + 2] = r;
    }
  }
  return out;
}

describe('BMP reader', () => {
  it('reads bottom-up BGR rows with padding into top-down RGB', () => {
    const image = readBmp(
      bmp(3, 2, (x, y) => [10 * x + y, 100 + x, 200 + y]),
      't.bmp',
    );
    expect(image.width).toBe(3);
    expect(image.height).toBe(2);
    expect(Array.from(image.data.subarray(0, 6))).toEqual([0, 100, 200, 10, 101, 200]);
    expect(Array.from(image.data.subarray(9, 12))).toEqual([1, 100, 201]);
  });

  it('refuses other formats and truncated files with an InputError', () => {
    expect(() => readBmp(new Uint8Array(60), 'x.bmp')).toThrow(InputError);
    const whole = bmp(4, 4, () => [1, 2, 3]);
    expect(() => readBmp(whole.subarray(0, 70), 'cut.bmp')).toThrow(/cut\.bmp: BMP is truncated/);
  });
});

describe('antialiased bilinear resize', () => {
  it('equals PyTorch interpolate(bilinear, antialias=True) on cat.bmp to ±1', () => {
    const shared = fileURLToPath(new URL('../../../../../shared/models/mobilenet-imagenet/cat.bmp', import.meta.url));
    const expected = readFileSync(fileURLToPath(new URL('../../fixtures/cat_224.rgb8', import.meta.url)));
    const mine = resizeBilinear(readBmp(readFileSync(shared), 'cat.bmp'), 224, 224).data;
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < mine.length; i++) {
      const d = Math.abs(mine[i]! - expected[i]!);
      worst = Math.max(worst, d);
      if (d) differing++;
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(differing / mine.length).toBeLessThan(0.001);
  });

  it('keeps a constant image constant and normalises to CHW', () => {
    const flat = { width: 5, height: 3, data: new Uint8Array(45).fill(51) };
    const r = resizeBilinear(flat, 2, 7);
    expect(r.data.every((v) => v === 51)).toBe(true);
    const x = normalisePixels(r, [0.2, 0.2, 0.2], [0.5, 0.5, 0.5]);
    expect(x).toHaveLength(3 * 14);
    expect(x[0]).toBeCloseTo(0, 6);
  });
});
