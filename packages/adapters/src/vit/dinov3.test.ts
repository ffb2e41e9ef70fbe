import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { compareWithReference } from '../testing/index.js';
import { expectReferenceParity } from './reference-parity.test-helpers.js';
import { ropeTables } from './rope.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/dinov3/', import.meta.url));

const VARIANTS: Record<string, string[]> = {
  'dinov3-tiny': ['16x16', '24x20', '8x12'],
  'dinov3-gated-tiny': ['16x16', '24x20'],
};

describe('DINOv3 against the PyTorch reference (fixtures/dinov3_reference.py)', () => {
  for (const [variant, sizes] of Object.entries(VARIANTS)) {
    it(`${variant}: cls, patch tokens and attention at the native grid and other sizes`, async () => {
      const backbone = await loadFolder(`${FIXTURES}${variant}`);
      expect(backbone.card.architecture).toBe('DINOv3ViTModel');
      expectReferenceParity(await compareWithReference(backbone, `${FIXTURES}${variant}`, sizes), variant, sizes);
    });
  }
});

describe('DINOv3 RoPE tables', () => {
  it('leave CLS and registers unrotated and rotate patch (i, j) by 2π·(y, x)·θ^(-4k/hd)', () => {
    const { cos, sinSigned } = ropeTables([2, 3], 8, 100, 2);
    expect(cos.dims).toEqual([8, 8]);
    const c = cos.data as Float32Array;
    const s = sinSigned.data as Float32Array;
    expect([...c.subarray(0, 16)]).toEqual(new Array(16).fill(1));
    expect([...s.subarray(0, 16)].every((v) => v === 0)).toBe(true);
    // Patch (i=1, j=2) of a 2×3 grid: y = 2·1.5/2 − 1 = 0.5, x = 2·2.5/3 − 1 = 2/3.
    const row = (2 + 1 * 3 + 2) * 8;
    const angles = [0.5, 0.5 / 10, 2 / 3, 2 / 3 / 10].map((a) => 2 * Math.PI * a);
    for (const [k, a] of angles.entries()) {
      expect(c[row + k]).toBeCloseTo(Math.cos(a), 6);
      expect(c[row + 4 + k]).toBeCloseTo(Math.cos(a), 6);
      expect(s[row + k]).toBeCloseTo(-Math.sin(a), 6);
      expect(s[row + 4 + k]).toBeCloseTo(Math.sin(a), 6);
    }
  });
});
