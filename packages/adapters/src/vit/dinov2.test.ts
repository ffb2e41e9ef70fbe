import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { compareWithReference } from '../testing/index.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/dinov2/', import.meta.url));

describe('DINOv2 against the PyTorch reference (fixtures/dinov2_reference.py)', () => {
  for (const variant of ['dinov2-tiny', 'dinov2-reg-swiglu-tiny']) {
    it(`${variant}: cls, patch tokens and attention at native, upsampled and downsampled sizes`, async () => {
      const backbone = await loadFolder(`${FIXTURES}${variant}`);
      const results = await compareWithReference(backbone, `${FIXTURES}${variant}`, ['16x16', '24x20', '12x12']);
      expect(results).toHaveLength(9);
      for (const r of results) {
        const [h, w] = r.size.split('x').map(Number) as [number, number];
        expect(r.grid).toEqual([h / 4, w / 4]);
        expect(r.dims, `${variant} ${r.size} ${r.name}`).toEqual(r.expectedDims);
        expect(r.maxRelativeError, `${variant} ${r.size} ${r.name}`).toBeLessThanOrEqual(1e-4);
      }
    });
  }
});
