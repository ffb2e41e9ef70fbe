import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { compareWithReference } from '../testing/index.js';
import { expectReferenceParity } from './reference-parity.test-helpers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/dinov2/', import.meta.url));

describe('DINOv2 against the PyTorch reference (fixtures/dinov2_reference.py)', () => {
  for (const variant of ['dinov2-tiny', 'dinov2-reg-swiglu-tiny']) {
    it(`${variant}: cls, patch tokens and attention at native, upsampled and downsampled sizes`, async () => {
      const backbone = await loadFolder(`${FIXTURES}${variant}`);
      const sizes = ['16x16', '24x20', '12x12'];
      expectReferenceParity(await compareWithReference(backbone, `${FIXTURES}${variant}`, sizes), variant, sizes);
    });
  }
});
