import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Backbone, BackboneEmbedder } from '@anymc3d/core/backbone';
import { readNpy, readSafetensors } from '@anymc3d/core/io';
import { maxRelativeError } from '@anymc3d/core/testing';

/** One output of one input size against the committed PyTorch reference. */
export interface ReferenceComparison {
  size: string;
  name: 'cls' | 'patch_tokens' | 'attention';
  grid: [number, number];
  dims: readonly number[] | null;
  expectedDims: readonly number[];
  maxRelativeError: number;
}

/**
 * The backbone's embedding of each fixture input (`<dir>/input_<H>x<W>.npy`) against the
 * reference outputs beside it (`reference_<H>x<W>.safetensors`: cls, patch_tokens, attention), as
 * the fixture scripts (`fixtures/*_reference.py`) write them. The tests assert on what it returns.
 */
export async function compareWithReference(
  backbone: Backbone,
  dir: string,
  sizes: readonly string[],
): Promise<ReferenceComparison[]> {
  const embedder = new BackboneEmbedder(backbone, { threads: 1, batchSize: 8 });
  const out: ReferenceComparison[] = [];
  try {
    for (const size of sizes) {
      const x = readNpy(new Uint8Array(await readFile(join(dir, `input_${size}.npy`))));
      const e = await embedder.embed({ dtype: 'float32', dims: x.shape, data: x.data as Float32Array });
      const ref = await readSafetensors(join(dir, `reference_${size}.safetensors`));
      for (const [name, got] of [
        ['cls', e.cls],
        ['patch_tokens', e.patchTokens],
        ['attention', e.attention],
      ] as const) {
        const expected = ref.float32(name);
        out.push({
          size,
          name,
          grid: e.grid,
          dims: got ? got.dims : null,
          expectedDims: expected.dims,
          maxRelativeError: got
            ? maxRelativeError(got.data as Float32Array, expected.data as Float32Array)
            : Number.POSITIVE_INFINITY,
        });
      }
    }
  } finally {
    await embedder.release();
  }
  return out;
}
