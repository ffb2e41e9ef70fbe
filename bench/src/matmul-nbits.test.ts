import { GraphBuilder, OnnxSession, tensor, toOnnx } from '@anymc3d/core/graph';
import { cosine } from '@anymc3d/core/testing';
import { Random } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { packNBits, withMatMulNBits } from './matmul-nbits.js';

describe('MatMulNBits alternative', () => {
  const r = new Random(5);
  const [m, k, n] = [3, 40, 6]; // K not a multiple of the block: the last block is partial.
  const w = Float32Array.from({ length: k * n }, () => r.normal());
  const x = Float32Array.from({ length: m * k }, () => r.normal());
  const g = new GraphBuilder('mm');
  g.output(g.op('MatMul', [g.input('x', 'float32', [m, k]), g.param('w', tensor('float32', [k, n], w))]), 'y');
  const graph = g.build();

  /** x · dequantised W in float64, from the packed codes as the op's spec reads them. */
  function reference(bits: 4 | 8, block: number): number[] {
    const { packed, scales, blocks, blob } = packNBits(w, k, n, { bits, block });
    const code = (row: number, c: number) => {
      const b = Math.floor(row / block);
      const j = row - b * block;
      const at = (c * blocks + b) * blob;
      return bits === 8 ? packed[at + j]! : (packed[at + (j >> 1)]! >> (j & 1 ? 4 : 0)) & 15;
    };
    const out: number[] = [];
    for (let i = 0; i < m; i++)
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let row = 0; row < k; row++)
          acc += x[i * k + row]! * (code(row, c) - 2 ** (bits - 1)) * scales[c * blocks + Math.floor(row / block)]!;
        out.push(acc);
      }
    return out;
  }

  for (const bits of [8, 4] as const) {
    it(`${bits}-bit blocks of 16 at accuracy level 0 equal the dequantised reference`, async () => {
      const { graph: nb, converted } = withMatMulNBits(graph, { bits, block: 16, accuracyLevel: 0 });
      expect(converted).toBe(1);
      expect(nb.params.has('w')).toBe(false);
      const session = await OnnxSession.create(toOnnx(nb), { threads: 1 });
      const y = (await session.run({ x: tensor('float32', [m, k], x) })).y!.data as Float32Array;
      await session.release();
      const expected = reference(bits, 16);
      for (const [i, v] of y.entries()) expect(v).toBeCloseTo(expected[i]!, 3);
    });
  }

  it('8-bit at accuracy level 4 (int8 activations) stays close to fp32', async () => {
    const session = await OnnxSession.create(
      toOnnx(withMatMulNBits(graph, { bits: 8, block: 32, accuracyLevel: 4 }).graph),
      { threads: 1 },
    );
    const y = (await session.run({ x: tensor('float32', [m, k], x) })).y!.data as Float32Array;
    await session.release();
    const exact = Array.from({ length: m * n }, (_, i) => {
      let acc = 0;
      for (let row = 0; row < k; row++) acc += x[Math.floor(i / n) * k + row]! * w[row * n + (i % n)]!;
      return acc;
    });
    expect(cosine(y, Float32Array.from(exact))).toBeGreaterThan(0.999);
  });
});
