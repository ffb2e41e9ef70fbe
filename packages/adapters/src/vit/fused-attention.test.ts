import { buildBackboneGraph, DEFAULT_LORA } from '@anymc3d/core/backbone';
import { buildGradientGraph, type Graph } from '@anymc3d/core/graph';
import { randomNormal } from '@anymc3d/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanUp, expectSameOutputs, tinyVits } from './tiny-vits.test-helpers.js';

afterAll(cleanUp);

const count = (graph: Graph, op: string) => graph.nodes.filter((n) => n.op === op).length;

describe('inference graphs run a ViT attention as one MultiHeadAttention kernel', () => {
  it('in every block but the last, with the outputs of the explicit form, with and without LoRA', async () => {
    for (const { name, backbone } of await tinyVits()) {
      const size = backbone.card.inputSize;
      const pixels = randomNormal([2, 3, size[0], size[1]], 7, 1);
      for (const lora of [undefined, DEFAULT_LORA]) {
        const label = `${name}${lora ? ' + LoRA' : ''}`;
        const built = buildBackboneGraph(backbone, size, lora);
        const fused = built.graph;
        const explicit = buildBackboneGraph(backbone, size, lora, 'fp32', { fusedAttention: false }).graph;
        // Each fused block trades its Softmax for one kernel; the last keeps it (its probabilities
        // are the `attention` output), and so does SigLIP's pooling head.
        expect(count(explicit, 'MultiHeadAttention'), label).toBe(0);
        expect(count(fused, 'MultiHeadAttention'), label).toBeGreaterThan(0);
        expect(count(fused, 'MultiHeadAttention'), label).toBe(count(explicit, 'Softmax') - count(fused, 'Softmax'));
        expect(count(fused, 'Softmax'), label).toBeGreaterThan(0);
        expect(built.outputs, label).toEqual(['cls', 'patch_tokens', 'attention']);
        await expectSameOutputs(explicit, fused, pixels, built.outputs, label);
      }
    }
  });

  it('and the autodiff refuses a fused graph by name, so a training graph cannot get one', async () => {
    const { backbone } = (await tinyVits())[0]!;
    const fused = buildBackboneGraph(backbone, backbone.card.inputSize, DEFAULT_LORA).graph;
    const wrt = [...fused.params.values()].filter((p) => p.role === 'trainable').map((p) => p.name);
    expect(() => buildGradientGraph(fused, { seeds: ['cls'], wrt })).toThrow(
      /no gradient rule for com\.microsoft\.MultiHeadAttention/,
    );
  });
});
