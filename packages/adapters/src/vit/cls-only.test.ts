import { buildBackboneGraph, DEFAULT_LORA } from '@anymc3d/core/backbone';
import { buildGradientGraph, GraphBuilder, type Tensor } from '@anymc3d/core/graph';
import { randomNormal } from '@anymc3d/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import { writeTinyDinov2 } from '../testing/index.js';
import { cleanUp, expectSameOutputs, runWithLora, tinyVitFolder, tinyVits } from './tiny-vits.test-helpers.js';

afterAll(cleanUp);

/** Multiply-adds of a graph's MatMuls per image (symbolic batch dimensions count as 1). */
function matMulWork(graph: ReturnType<typeof buildBackboneGraph>['graph']): number {
  let work = 0;
  for (const node of graph.nodes.filter((n) => n.op === 'MatMul')) {
    const a = graph.values.get(node.inputs[0]!)!.shape;
    const y = graph.values.get(node.outputs[0]!)!.shape;
    const size = (dims: readonly (number | string)[]) =>
      dims.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1);
    work += size(y) * size(a.slice(-1));
  }
  return work;
}

describe('a ViT built without patch tokens runs its last block for the CLS query alone', () => {
  it('gives the same CLS and CLS→patch attention as the full graph, with and without LoRA, in less work', async () => {
    for (const { name, backbone } of await tinyVits()) {
      const size = backbone.card.inputSize;
      const pixels = randomNormal([2, 3, size[0], size[1]], 1, 1);
      for (const lora of [undefined, DEFAULT_LORA]) {
        const full = buildBackboneGraph(backbone, size, lora);
        const lean = buildBackboneGraph(backbone, size, lora, 'fp32', { patchTokens: false });
        expect(lean.outputs, name).not.toContain('patch_tokens');
        await expectSameOutputs(full.graph, lean.graph, pixels, lean.outputs, `${name}${lora ? ' + LoRA' : ''}`);
        // SigLIP's pooling head reads every token, so it alone keeps all the work.
        if (name.startsWith('siglip')) expect(matMulWork(lean.graph)).toBe(matMulWork(full.graph));
        else expect(matMulWork(lean.graph), name).toBeLessThan(matMulWork(full.graph));
      }
    }
  });

  it('gives the same LoRA gradients of the CLS tokens (what the trainer differentiates)', async () => {
    const dir = await tinyVitFolder('cls-only-grad-');
    await writeTinyDinov2(dir, { registers: 1 });
    const backbone = await loadFolder(dir);
    const size = backbone.card.inputSize;
    const pixels = randomNormal([2, 3, size[0], size[1]], 3, 1);
    const gradients = async (patchTokens: boolean) => {
      const g = new GraphBuilder('grad');
      const x = g.input('pixels', 'float32', ['S', 3, size[0], size[1]]);
      g.output(backbone.build(g, x, { inputSize: size, lora: DEFAULT_LORA, patchTokens }).cls, 'cls');
      const fwd = g.build();
      const lora = [...fwd.params.values()].filter((p) => p.role === 'trainable').map((p) => p.name);
      const graph = buildGradientGraph(fwd, { seeds: ['cls'], wrt: lora });
      const feeds: Record<string, Tensor> = { 'seed.cls': randomNormal([2, backbone.card.embedDim], 4, 1) };
      const out = await runWithLora(graph, pixels, feeds);
      return Object.fromEntries(lora.map((name) => [name, out[`grad.${name}`]!.data as Float32Array]));
    };
    const full = await gradients(true);
    const lean = await gradients(false);
    expect(Object.keys(lean).length).toBeGreaterThan(4);
    for (const [name, a] of Object.entries(full)) {
      const b = lean[name]!;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
      expect(scale, name).toBeGreaterThan(0);
      expect(worst / scale, name).toBeLessThan(1e-4);
    }
  });
});
