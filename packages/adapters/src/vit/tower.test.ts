import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildBackboneGraph, DEFAULT_LORA } from '@anymc3d/core/backbone';
import { buildGradientGraph, gradName, OnnxSession, seedName, type Tensor, toOnnx } from '@anymc3d/core/graph';
import { readNpy, readSafetensors } from '@anymc3d/core/io';
import { describe, expect, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { compareWithReference, maxRelativeError } from '../testing/index.js';
import { expectReferenceParity } from './reference-parity.test-helpers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/towers/', import.meta.url));
const FAMILIES = ['clip-tiny', 'siglip-tiny', 'open-clip-timm-tiny'] as const;

const npy = async (path: string): Promise<Tensor> => {
  const x = readNpy(new Uint8Array(await readFile(path)));
  return { dtype: 'float32', dims: x.shape, data: x.data as Float32Array };
};

describe('CLIP, SigLIP and open_clip timm towers against the PyTorch reference (fixtures/tower_reference.py)', () => {
  for (const variant of FAMILIES) {
    it(`${variant}: pooled embedding, patch tokens and attention at native, upsampled and downsampled sizes`, async () => {
      const backbone = await loadFolder(`${FIXTURES}${variant}`);
      const sizes = ['16x16', '24x20', '12x12'];
      expectReferenceParity(await compareWithReference(backbone, `${FIXTURES}${variant}`, sizes), variant, sizes);
    });

    it(`${variant}: LoRA outputs and the gradients of every A and B match autograd`, async () => {
      const dir = `${FIXTURES}${variant}`;
      const backbone = await loadFolder(dir);
      // Differentiated below, so with the explicit attention the autodiff has rules for.
      const graph = buildBackboneGraph(backbone, [24, 20], DEFAULT_LORA, 'fp32', { fusedAttention: false }).graph;
      const lora = await readSafetensors(`${dir}/lora.safetensors`);
      const ref = await readSafetensors(`${dir}/lora_reference_24x20.safetensors`);
      const params = [...graph.params.values()].filter((p) => p.role === 'trainable').map((p) => p.name);
      // Every attachment point the reference adapts is a graph parameter, and no other.
      expect([...params].sort()).toEqual([...lora.entries.keys()].sort());
      const grads = buildGradientGraph(graph, {
        seeds: ['cls', 'patch_tokens'],
        wrt: params,
        keep: ['cls', 'patch_tokens'],
      });
      const session = await OnnxSession.create(toOnnx(grads), { threads: 1 });
      const feeds: Record<string, Tensor> = { pixels: await npy(`${dir}/input_24x20.npy`) };
      for (const name of params) feeds[name] = lora.float32(name);
      for (const name of ['cls', 'patch_tokens']) feeds[seedName(name)] = ref.float32(`seed.${name}`);
      const out = await session.run(feeds);
      for (const name of ['cls', 'patch_tokens']) {
        const err = maxRelativeError(out[`out.${name}`]!.data as Float32Array, ref.float32(name).data as Float32Array);
        expect(err, `${variant} adapted ${name}`).toBeLessThanOrEqual(1e-4);
      }
      for (const name of params) {
        const expected = ref.float32(gradName(name));
        const got = out[gradName(name)]!;
        expect(got.dims, name).toEqual(expected.dims);
        const err = maxRelativeError(got.data as Float32Array, expected.data as Float32Array);
        expect(err, `${variant} ${gradName(name)}`).toBeLessThanOrEqual(1e-3);
      }
    });
  }
});
