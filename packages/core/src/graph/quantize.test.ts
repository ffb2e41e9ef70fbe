import { describe, expect, it } from 'vitest';
import { cosine } from '../testing/compare.js';
import { Random } from '../util/random.js';
import { GraphBuilder } from './builder.js';
import { OnnxSession } from './engine.js';
import { gelu, layerNorm, linear, softmax } from './nn.js';
import { toOnnx } from './onnx.js';
import { quantizeColumns, quantizeDynamicInt8, withPrecision } from './quantize.js';
import { type Tensor, tensor } from './tensor.js';

const randn = (dims: number[], seed: number, scale = 1) => {
  const r = new Random(seed);
  return tensor(
    'float32',
    dims,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.uniform(-0.5, 0.5) * scale),
  );
};

/** A pre-norm transformer block: attention (activation × activation MatMuls) and an MLP. */
function block(tokens: number, dim: number) {
  const g = new GraphBuilder('block');
  const x = g.input('x', 'float32', ['N', tokens, dim]);
  const p = (name: string, dims: number[], seed: number) => g.param(name, randn(dims, seed, 2 / Math.sqrt(dims[0]!)));
  const ones = tensor('float32', [dim], new Float32Array(dim).fill(1));
  const h = layerNorm(g, x, g.param('ln.w', ones), g.param('ln.b', tensor('float32', [dim])), 1e-6);
  const q = linear(g, h, p('q', [dim, dim], 2));
  const k = linear(g, h, p('k', [dim, dim], 3));
  const v = linear(g, h, p('v', [dim, dim], 4));
  const att = softmax(
    g,
    g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 2, 1] })]), g.scalar(1 / Math.sqrt(dim))]),
  );
  const o = linear(g, g.op('MatMul', [att, v]), p('proj', [dim, dim], 5));
  const x1 = g.op('Add', [x, o]);
  const m = linear(
    g,
    gelu(g, linear(g, x1, p('fc1', [dim, 4 * dim], 6), p('fc1.b', [4 * dim], 7))),
    p('fc2', [4 * dim, dim], 8),
  );
  const lora = g.param('lora.B', randn([dim, dim], 9, 0.01), { role: 'trainable', group: 'lora' });
  g.output(g.op('Add', [g.op('Add', [x1, m]), g.op('MatMul', [x1, lora])]), 'y');
  return g.build();
}

describe('dynamic int8 quantisation pass', () => {
  it('quantises columns symmetrically: W ≈ scale · W_q, |W_q| ≤ 127', () => {
    const w = tensor('float32', [2, 3], [0.25, -2, 0, -1, 1, 0]);
    const { q, scale } = quantizeColumns(w);
    expect(Array.from(scale.data as Float32Array)).toEqual([Math.fround(1 / 127), Math.fround(2 / 127), 1]);
    expect(Array.from(q.data as Int8Array)).toEqual([32, -127, 0, -127, 64, 0]);
  });

  it('equals a plain-JS integer reference of the same arithmetic', async () => {
    const g = new GraphBuilder('mm');
    const x = g.input('x', 'float32', [3, 5]);
    const w = randn([5, 4], 11);
    g.output(g.op('MatMul', [x, g.param('w', w)]), 'y');
    const { graph, provenance } = quantizeDynamicInt8(g.build());
    expect(provenance).toMatchObject({ precision: 'int8', quantizedMatMuls: 1, floatMatMuls: 0, weights: ['w'] });
    expect(graph.params.has('w')).toBe(false);
    const xs = randn([3, 5], 12, 4);
    const session = await OnnxSession.create(toOnnx(graph), { threads: 1 });
    const y = (await session.run({ x: xs })).y!.data as Float32Array;
    const { q: xq, scale: s, zero: zp } = dynamicQuantize(xs);
    const columns = quantizeColumns(w);
    const q = columns.q.data as Int8Array;
    const scale = columns.scale.data as Float32Array;
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 4; c++) {
        let acc = 0;
        for (let k = 0; k < 5; k++) acc += (xq[r * 5 + k]! - zp) * q[k * 4 + c]!;
        expect(y[r * 4 + c]).toBeCloseTo(acc * s * scale[c]!, 4);
      }
    }
  });

  it('quantises only frozen 2-D weight MatMuls of a transformer block and stays close to fp32', async () => {
    const graph = block(17, 32);
    const { graph: int8, provenance } = withPrecision(graph, 'int8');
    // q, k, v, proj, fc1, fc2 — not the two attention MatMuls, not the trainable LoRA one.
    expect(provenance.quantizedMatMuls).toBe(6);
    expect(provenance.floatMatMuls).toBe(3);
    expect(int8.nodes.filter((n) => n.op === 'MatMulInteger')).toHaveLength(6);
    expect(withPrecision(graph, 'fp32').provenance).toMatchObject({ precision: 'fp32', quantizedMatMuls: 0 });
    const x = randn([2, 17, 32], 20, 2);
    const feeds: Record<string, Tensor> = { x, 'lora.B': graph.params.get('lora.B')!.value };
    const fp32 = (await (await OnnxSession.create(toOnnx(graph), { threads: 1 })).run(feeds)).y!.data;
    const q8 = (await (await OnnxSession.create(toOnnx(int8), { threads: 1 })).run(feeds)).y!.data;
    expect(cosine(fp32 as Float32Array, q8 as Float32Array)).toBeGreaterThan(0.999);
    const reduced = quantizeDynamicInt8(graph, { reduceRange: true });
    expect(reduced.provenance.method).toMatch(/7-bit/);
  });

  it('with activationMatMuls also quantises attention, both sides per tensor, as a NumPy-style reference does', async () => {
    const graph = block(17, 32);
    const { graph: int8, provenance } = quantizeDynamicInt8(graph, { activationMatMuls: true });
    // The six weight MatMuls and q·kᵀ, p·v; the trainable LoRA MatMul stays float.
    expect(provenance).toMatchObject({ quantizedMatMuls: 8, floatMatMuls: 1 });
    expect(provenance.method).toMatch(/2 activation × activation MatMuls/);
    const x = randn([2, 17, 32], 21, 2);
    const feeds: Record<string, Tensor> = { x, 'lora.B': graph.params.get('lora.B')!.value };
    const fp32 = (await (await OnnxSession.create(toOnnx(graph), { threads: 1 })).run(feeds)).y!.data as Float32Array;
    const q8 = (await (await OnnxSession.create(toOnnx(int8), { threads: 1 })).run(feeds)).y!.data as Float32Array;
    expect(cosine(fp32, q8)).toBeGreaterThan(0.999);

    // One activation × activation MatMul against plain JS: uint8 codes per tensor on both sides.
    const g = new GraphBuilder('aa');
    const a = g.input('a', 'float32', [2, 3, 4]);
    const bIn = g.input('b', 'float32', [2, 4, 5]);
    g.output(g.op('MatMul', [a, bIn]), 'y');
    const aa = quantizeDynamicInt8(g.build(), { activationMatMuls: true });
    expect(aa.provenance).toMatchObject({ quantizedMatMuls: 1, floatMatMuls: 0 });
    const av = randn([2, 3, 4], 22, 3);
    const bv = randn([2, 4, 5], 23, 3);
    const y = (await (await OnnxSession.create(toOnnx(aa.graph), { threads: 1 })).run({ a: av, b: bv })).y!;
    const qa = dynamicQuantize(av);
    const qb = dynamicQuantize(bv);
    const expected: number[] = [];
    for (let n = 0; n < 2; n++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 5; j++) {
          let acc = 0;
          for (let k = 0; k < 4; k++)
            acc += (qa.q[n * 12 + i * 4 + k]! - qa.zero) * (qb.q[n * 20 + k * 5 + j]! - qb.zero);
          expected.push(acc * Math.fround(qa.scale * qb.scale));
        }
    const got = Array.from(y.data as Float32Array);
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 4);
  });
});

/** ONNX DynamicQuantizeLinear: range widened to include 0, scale = range/255, zero point and codes rounded half to even. */
function dynamicQuantize(t: Tensor): { q: number[]; scale: number; zero: number } {
  const d = t.data as Float32Array;
  const lo = Math.min(0, ...d);
  const hi = Math.max(0, ...d);
  const scale = Math.fround((hi - lo) / 255);
  const zero = Math.max(0, Math.min(255, roundHalfEven(-lo / scale)));
  return { q: Array.from(d, (v) => Math.max(0, Math.min(255, roundHalfEven(v / scale) + zero))), scale, zero };
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
