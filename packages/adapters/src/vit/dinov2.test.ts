import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FrozenEmbedder } from '@anymc3d/core/backbone';
import { readNpy, readSafetensors } from '@anymc3d/core/io';
import { describe, expect, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { maxRelativeError } from '../testing/index.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/dinov2/', import.meta.url));

describe('DINOv2 against the PyTorch reference (fixtures/dinov2_reference.py)', () => {
  for (const variant of ['dinov2-tiny', 'dinov2-reg-swiglu-tiny']) {
    it(`${variant}: cls, patch tokens and attention at native, upsampled and downsampled sizes`, async () => {
      const backbone = await loadFolder(`${FIXTURES}${variant}`);
      const embedder = new FrozenEmbedder(backbone, { threads: 1, batchSize: 8 });
      for (const size of ['16x16', '24x20', '12x12']) {
        const x = readNpy(new Uint8Array(await readFile(`${FIXTURES}${variant}/input_${size}.npy`)));
        const out = await embedder.embed({ dtype: 'float32', dims: x.shape, data: x.data as Float32Array });
        const ref = await readSafetensors(`${FIXTURES}${variant}/reference_${size}.safetensors`);
        const [h, w] = size.split('x').map(Number) as [number, number];
        expect(out.grid).toEqual([h / 4, w / 4]);
        for (const [name, got] of [
          ['cls', out.cls],
          ['patch_tokens', out.patchTokens],
          ['attention', out.attention],
        ] as const) {
          const expected = ref.float32(name);
          if (!got) throw new Error(`${name} missing from the DINOv2 embedding`);
          expect(got.dims, `${variant} ${size} ${name}`).toEqual(expected.dims);
          const err = maxRelativeError(got.data as Float32Array, expected.data as Float32Array);
          expect(err, `${variant} ${size} ${name}`).toBeLessThanOrEqual(1e-4);
        }
      }
      await embedder.release();
    });
  }
});
