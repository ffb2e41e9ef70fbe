import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { GraphBuilder } from './builder.js';
import { availableDevices, DeviceUnavailableError, OnnxSession } from './engine.js';
import { gelu, layerNorm, linear, reshape, sliceAxis, softmax, transpose } from './nn.js';
import { toOnnx } from './onnx.js';
import { tensor } from './tensor.js';

/** Seeded inputs, uniform in [-0.5, 0.5), so runs are reproducible without fixtures. */
const randn = (n: number, seed: number) => {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => r.uniform(-0.5, 0.5));
};

/** Plain-JS references, written independently of the graph code. */
function refLayerNorm(x: Float32Array, rows: number, d: number, w: Float32Array, b: Float32Array, eps: number) {
  const y = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let k = 0; k < d; k++) mean += x[r * d + k]!;
    mean /= d;
    let v = 0;
    for (let k = 0; k < d; k++) v += (x[r * d + k]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let k = 0; k < d; k++) y[r * d + k] = (x[r * d + k]! - mean) * inv * w[k]! + b[k]!;
  }
  return y;
}
function erf(x: number) {
  // Abramowitz–Stegun 7.1.26 is only 1e-7; use a series/continued fraction good to 1e-12.
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t *
            (1.00002368 +
              t *
                (0.37409196 +
                  t *
                    (0.09678418 +
                      t *
                        (-0.18628806 +
                          t *
                            (0.27886807 +
                              t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}

describe('graph IR → ONNX → ONNX Runtime', () => {
  it('infers shapes with a symbolic batch and refuses a bad MatMul where it is written', () => {
    const g = new GraphBuilder('shapes');
    const x = g.input('x', 'float32', ['N', 5, 8]);
    const w = g.param('w', tensor('float32', [8, 3]));
    const y = g.op('MatMul', [x, w]);
    expect(y.shape).toEqual(['N', 5, 3]);
    expect(reshape(g, y, [0, 15]).shape).toEqual(['N', 15]);
    expect(transpose(g, y, [0, 2, 1]).shape).toEqual(['N', 3, 5]);
    expect(sliceAxis(g, y, 1, 1, 5).shape).toEqual(['N', 4, 3]);
    expect(g.op('ReduceMean', [y], { axes: [1], keepdims: 0 }).shape).toEqual(['N', 3]);
    expect(g.op('Concat', [y, y], { axis: 2 }).shape).toEqual(['N', 5, 6]);
    const conv = g.op(
      'Conv',
      [g.input('img', 'float32', ['N', 3, 28, 28]), g.param('k', tensor('float32', [16, 3, 14, 14]))],
      {
        strides: [14, 14],
      },
    );
    expect(conv.shape).toEqual(['N', 16, 2, 2]);
    expect(() => g.op('MatMul', [x, g.param('bad', tensor('float32', [7, 2]))])).toThrow(/inner dimensions differ/);
  });

  it('computes LayerNorm → Linear → GELU → Softmax like a plain-JS reference', async () => {
    const [N, T, D, O] = [2, 3, 6, 5];
    const xs = randn(N * T * D, 1);
    const lw = randn(D, 2).map((v) => 1 + v);
    const lb = randn(D, 3);
    const W = randn(O * D, 4); // PyTorch layout [out, in]
    const bias = randn(O, 5);
    const WT = new Float32Array(D * O);
    for (let o = 0; o < O; o++) for (let i = 0; i < D; i++) WT[i * O + o] = W[o * D + i]!;

    const g = new GraphBuilder('mlp');
    const x = g.input('x', 'float32', ['N', T, D]);
    const h = layerNorm(
      g,
      x,
      g.param('ln.w', tensor('float32', [D], lw)),
      g.param('ln.b', tensor('float32', [D], lb)),
      1e-6,
    );
    const y = linear(
      g,
      h,
      g.param('fc.wT', tensor('float32', [D, O], WT), { role: 'trainable' }),
      g.param('fc.b', tensor('float32', [O], bias)),
    );
    g.output(softmax(g, gelu(g, y)), 'probs');
    const graph = g.build();

    const session = await OnnxSession.create(toOnnx(graph), { threads: 1 });
    expect(session.inputNames).toContain('fc.wT');
    const out = await session.run({ x: tensor('float32', [N, T, D], xs), 'fc.wT': tensor('float32', [D, O], WT) });
    const probs = out.probs!;
    expect(probs.dims).toEqual([N, T, O]);

    const hRef = refLayerNorm(xs, N * T, D, lw, lb, 1e-6);
    for (let r = 0; r < N * T; r++) {
      const z: number[] = [];
      for (let o = 0; o < O; o++) {
        let s = bias[o]!;
        for (let i = 0; i < D; i++) s += hRef[r * D + i]! * W[o * D + i]!;
        z.push(0.5 * s * (1 + erf(s / Math.SQRT2)));
      }
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let o = 0; o < O; o++) expect(probs.data[r * O + o]).toBeCloseTo(e[o]! / sum, 5);
    }

    // The merged export (trainable baked in) computes the same function.
    const merged = await OnnxSession.create(toOnnx(graph, { trainable: 'initializers' }), { threads: 1 });
    expect(merged.inputNames).toEqual(['x']);
    const out2 = await merged.run({ x: tensor('float32', [N, T, D], xs) });
    expect(Array.from(out2.probs!.data as Float32Array)).toEqual(Array.from(probs.data as Float32Array));
    await session.release();
    await merged.release();
  });

  it('runs a strided Conv (patch embedding) like a reference', async () => {
    const [C, H, P, E] = [3, 4, 2, 2];
    const img = randn(C * H * H, 7);
    const k = randn(E * C * P * P, 8);
    const g = new GraphBuilder('patch');
    const x = g.input('x', 'float32', [1, C, H, H]);
    g.output(g.op('Conv', [x, g.param('k', tensor('float32', [E, C, P, P], k))], { strides: [P, P] }), 'y');
    const s = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
    const y = (await s.run({ x: tensor('float32', [1, C, H, H], img) })).y!;
    expect(y.dims).toEqual([1, E, 2, 2]);
    for (let e = 0; e < E; e++)
      for (let py = 0; py < 2; py++)
        for (let px = 0; px < 2; px++) {
          let acc = 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < P; i++)
              for (let j = 0; j < P; j++)
                acc += img[c * H * H + (py * P + i) * H + px * P + j]! * k[((e * C + c) * P + i) * P + j]!;
          expect(y.data[(e * 2 + py) * 2 + px]).toBeCloseTo(acc, 5);
        }
  });

  it('says clearly when CUDA is not available', async () => {
    if (availableDevices().includes('cuda')) return;
    const g = new GraphBuilder('id');
    g.output(g.op('Identity', [g.input('x', 'float32', [1])]), 'y');
    await expect(OnnxSession.create(toOnnx(g.build()), { device: 'cuda' })).rejects.toBeInstanceOf(
      DeviceUnavailableError,
    );
  });
});
