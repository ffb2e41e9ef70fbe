import { describe, expect, it } from 'vitest';
import { tensor } from '../graph/tensor.js';
import { randomNormal } from '../testing/random-tensor.js';
import { sessionsBuilt } from '../testing/sessions-built.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import { randomTinyVitWeights, TinyVit } from '../testing/tiny-vit.js';
import { InputError } from '../util/errors.js';
import { BackboneEmbedder, buildBackboneGraph } from './embedder.js';
import { DEFAULT_LORA } from './lora.js';
import type { Backbone } from './types.js';

describe('precision routing of backbone graphs', () => {
  const plain = tinyCnnBackbone({ dim: 4, patch: 4 });
  /** The same network, with an "integer graph" that is recognisably different (doubled outputs). */
  const withInteger: Backbone = {
    ...plain,
    buildInteger(g, pixels, options) {
      const out = plain.build(g, pixels, options);
      const twice = (v: typeof out.cls) => g.op('Mul', [v, g.scalar(2)]);
      return { cls: twice(out.cls), patchTokens: twice(out.patchTokens!), grid: out.grid, method: 'test-integer' };
    },
  };

  it('int8 builds the integer graph where the backbone has one and records its method', async () => {
    const built = buildBackboneGraph(withInteger, [16, 16], undefined, 'int8');
    expect(built.provenance).toMatchObject({ precision: 'int8', method: 'test-integer', quantizedMatMuls: 0 });
    expect(built.graph.nodes.some((n) => n.op === 'Mul')).toBe(true);
    // fp32 ignores it; a backbone without one gets the dynamic MatMul pass.
    expect(buildBackboneGraph(withInteger, [16, 16]).provenance).toMatchObject({ precision: 'fp32', method: '' });
    expect(buildBackboneGraph(plain, [16, 16], undefined, 'int8').provenance.method).toMatch(/^dynamic int8/);

    const pixels = tensor(
      'float32',
      [2, 3, 16, 16],
      Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i)),
    );
    const fp32 = new BackboneEmbedder(withInteger, { threads: 1 });
    const int8 = new BackboneEmbedder(withInteger, { threads: 1, precision: 'int8' });
    try {
      const a = (await fp32.embed(pixels)).cls.data as Float32Array;
      const b = (await int8.embed(pixels)).cls.data as Float32Array;
      expect(int8.provenance?.method).toBe('test-integer');
      expect(Array.from(b)).toEqual(Array.from(a, (v) => 2 * v));
    } finally {
      await fp32.release();
      await int8.release();
    }
  });

  it('refuses int8 with LoRA: the integer and quantised graphs are frozen', () => {
    for (const backbone of [plain, withInteger]) {
      expect(() => buildBackboneGraph(backbone, [16, 16], DEFAULT_LORA, 'int8')).toThrow(InputError);
      expect(() => buildBackboneGraph(backbone, [16, 16], DEFAULT_LORA, 'int8')).toThrow(
        /LoRA .* needs precision fp32/,
      );
    }
  });
});

describe('sessions of one embedder', () => {
  it('a ViT: CLS-only passes share one session, patch tokens get their own; a CNN: one session for both', async () => {
    const spec = { dim: 16, depth: 2, heads: 2, mlp: 32, patch: 4, image: 8 };
    const vit = new TinyVit(spec, randomTinyVitWeights(spec, 3));
    const cnn = tinyCnnBackbone({ dim: 4, patch: 4 });
    const pixels = randomNormal([2, 3, 8, 8], 1);
    const passes = async (backbone: Backbone) => {
      const embedder = new BackboneEmbedder(backbone, { threads: 1 });
      try {
        const cls = await embedder.cls(pixels);
        const lean = await embedder.embed(pixels, { patchTokens: false });
        expect(Array.from(lean.cls.data as Float32Array)).toEqual(Array.from(cls.data as Float32Array));
        // A CNN's lean pass is its full one: the patch tokens come along at no cost.
        expect(lean.patchTokens === undefined).toBe(backbone.card.family === 'vit');
        const full = await embedder.embed(pixels);
        expect(full.patchTokens?.dims).toEqual([2, 4, backbone.card.embedDim]);
      } finally {
        await embedder.release();
      }
    };
    expect(await sessionsBuilt(() => passes(vit))).toBe(2);
    expect(await sessionsBuilt(() => passes(cnn))).toBe(1);
  });
});
