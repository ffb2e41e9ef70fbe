import { describe, expect, it } from 'vitest';
import { DEFAULT_LORA } from '../backbone/lora.js';
import { checkGradients } from '../testing/gradcheck.js';
import { randomTinyVitWeights, TinyVit } from '../testing/tiny-vit.js';
import { Random } from '../util/random.js';
import { f } from './attributes.js';
import { buildGradientGraph } from './autodiff.js';
import { GraphBuilder } from './builder.js';
import { type DType, type Tensor, tensor } from './tensor.js';

function randomTensor(dtype: DType, dims: number[], seed: number, scale = 1): Tensor {
  const r = new Random(seed);
  const n = dims.reduce((p, q) => p * q, 1);
  const values = Array.from({ length: n }, () => scale * r.normal());
  return tensor(dtype, dims, dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values));
}

function trainableFeeds(g: ReturnType<GraphBuilder['build']>, seed: number, scale = 0.3): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  let k = 0;
  for (const p of g.params.values()) {
    if (p.role === 'trainable') feeds[p.name] = randomTensor(p.value.dtype, [...p.value.dims], seed + k++, scale);
  }
  return feeds;
}

describe('buildGradientGraph', () => {
  it('matches float64 finite differences through every float64-capable op', async () => {
    const d = 'float64';
    const g = new GraphBuilder('ops64');
    const x = g.input('x', d, [2, 4, 4]);
    const p = (name: string, dims: number[]) =>
      g.param(name, randomTensor(d, dims, name.length), { role: 'trainable' });
    const tok = g.op('Transpose', [g.op('Reshape', [g.op('Unsqueeze', [x, g.ints([1])]), g.ints([2, 4, 4])])], {
      perm: [0, 2, 1],
    });
    const w = p('w', [4, 6]);
    const h = g.op('Add', [g.op('MatMul', [tok, w]), p('b', [6])]);
    const [h1, h2] = g.opMulti('Split', [h, g.ints([3, 3])], { axis: 2 });
    const scores = g.op('Div', [g.op('MatMul', [h1!, g.op('Transpose', [h2!], { perm: [0, 2, 1] })]), g.scalar(2, d)]);
    const att = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), h2!]);
    const cat = g.op('Concat', [att, g.op('Sigmoid', [h1!])], { axis: 2 });
    const first = g.op('Gather', [cat, g.constant(tensor('int64', [], [0]))], { axis: 1 });
    const rest = g.op('Slice', [cat, g.ints([1]), g.ints([4]), g.ints([1])]);
    const pooled = g.op('ReduceMean', [rest], { axes: [1], keepdims: 0 });
    const z = g.op('Sub', [
      g.op('Mul', [first, g.op('Tanh', [pooled])]),
      g.op('Exp', [g.op('Mul', [pooled, g.scalar(0.1, d)])]),
    ]);
    const gemm = g.op('Gemm', [z, p('gw', [3, 6]), p('gb', [3])], { transB: 1, alpha: f(0.5) });
    const logp = g.op('LogSoftmax', [gemm], { axis: 1 });
    const ln = g.op(
      'LayerNormalization',
      [gemm, p('lnw', [3]), p('lnb', [3])],
      { axis: -1, epsilon: f(1e-5) },
      { count: 1 },
    );
    const sq = g.op('Sqrt', [g.op('Add', [g.op('Mul', [ln, ln]), g.scalar(1, d)])]);
    const lg = g.op('Log', [g.op('Add', [g.op('Sigmoid', [sq]), g.scalar(1, d)])]);
    const loss = g.op('ReduceSum', [g.op('Add', [logp, lg])], { keepdims: 0 });
    g.output(loss, 'loss');
    const graph = g.build();
    const wrt = [...graph.params.values()].filter((q) => q.role === 'trainable').map((q) => q.name);
    const feeds = { x: randomTensor(d, [2, 4, 4], 99), ...trainableFeeds(graph, 7) };
    const res = await checkGradients(graph, 'loss', feeds, [...wrt, 'x'], { step: 1e-4 });
    for (const [name, r] of res) expect(r.relError, `${name}: ${JSON.stringify(r)}`).toBeLessThan(1e-5);
  });

  it('matches float64 finite differences through constant Pad (prefix tokens, a crop) and Gather, with a symbolic batch', async () => {
    const d = 'float64';
    const g = new GraphBuilder('pad64');
    const x = g.input('x', d, ['N', 3, 4]);
    const w = g.param('w', randomTensor(d, [3, 4], 1), { role: 'trainable' });
    const h = g.op('Mul', [x, w]);
    // As the ViT encoder makes room for CLS/register tokens: two rows in front of the patch tokens.
    const prefixed = g.op('Pad', [h, g.ints([0, 2, 0, 0, 0, 0])], { mode: 'constant' });
    // Negative pads crop: drop the first column, add one column and one row behind.
    const cropped = g.op('Pad', [prefixed, g.ints([0, 0, -1, 0, 1, 1])], { mode: 'constant' });
    expect(cropped.shape).toEqual(['N', 6, 4]);
    const r = g.constant(randomTensor(d, [1, 6, 4], 2));
    // Gather along a leading axis with the symbolic batch after it (as the encoder picks q, k, v).
    const picked = g.op('Gather', [g.op('Transpose', [h], { perm: [1, 0, 2] }), g.constant(tensor('int64', [], [1]))], {
      axis: 0,
    });
    const loss = g.op('Add', [
      g.op('ReduceSum', [g.op('Mul', [g.op('Tanh', [cropped]), r])], { keepdims: 0 }),
      g.op('ReduceSum', [g.op('Mul', [picked, picked])], { keepdims: 0 }),
    ]);
    g.output(loss, 'loss');
    const graph = g.build();
    const feeds = { x: randomTensor(d, [2, 3, 4], 3), w: randomTensor(d, [3, 4], 4) };
    const res = await checkGradients(graph, 'loss', feeds, ['w', 'x'], { step: 1e-4 });
    for (const [name, r2] of res) expect(r2.relError, `${name}: ${JSON.stringify(r2)}`).toBeLessThan(1e-6);
  });

  it('matches float32 finite differences through Conv (patch, 1×1, padded 3-D), LayerNorm and GELU', async () => {
    const d = 'float32';
    const g = new GraphBuilder('conv32');
    const x = g.input('x', d, [2, 3, 8, 8]);
    const p = (name: string, dims: number[]) =>
      g.param(name, randomTensor(d, dims, name.length), { role: 'trainable' });
    const patch = g.op('Conv', [x, p('pw', [4, 3, 4, 4]), p('pb', [4])], { strides: [4, 4] });
    const one = g.op('Conv', [patch, p('ow', [6, 4, 1, 1])]);
    const vol = g.op('Reshape', [one, g.ints([2, 3, 2, 2, 2])]);
    const c3 = g.op('Conv', [vol, p('cw', [2, 3, 3, 3, 3]), p('cb', [2])], { pads: [1, 1, 1, 1, 1, 1] });
    const c3s = g.op('Conv', [vol, p('sw', [2, 3, 2, 2, 2])], { strides: [1, 2, 2], pads: [0, 1, 1, 0, 0, 0] });
    const flat = g.op('Reshape', [c3, g.ints([2, 16])]);
    const ln = g.op('LayerNormalization', [flat, p('lw', [16]), p('lb', [16])], { axis: -1, epsilon: f(1e-5) });
    const u = g.op('MatMul', [ln, p('m', [16, 4])]);
    const e = g.op('Mul', [
      g.op('Mul', [u, g.op('Add', [g.op('Erf', [g.op('Div', [u, g.scalar(Math.SQRT2)])]), g.scalar(1)])]),
      g.scalar(0.5),
    ]);
    const r = g.constant(randomTensor(d, [2, 4], 3));
    const sumOf = (v: typeof e) => g.op('ReduceSum', [v], { keepdims: 0 });
    const loss = g.op('Sum', [
      sumOf(g.op('Mul', [e, r])),
      sumOf(g.op('Mul', [c3s, g.constant(randomTensor(d, [2, 2, 2, 1, 1], 4))])),
      sumOf(g.op('Mul', [c3, g.constant(randomTensor(d, [2, 2, 2, 2, 2], 5))])),
    ]);
    g.output(loss, 'loss');
    const graph = g.build();
    const feeds = { x: randomTensor(d, [2, 3, 8, 8], 99), ...trainableFeeds(graph, 7, 0.5) };
    const res = await checkGradients(graph, 'loss', feeds, [...Object.keys(feeds)], { step: 3e-2 });
    for (const [name, r2] of res) expect(r2.relError, `${name}: ${JSON.stringify(r2)}`).toBeLessThan(1e-3);
  });

  it('matches float32 finite differences through a tiny LoRA ViT (LayerNorm and Erf lack float64 kernels)', async () => {
    const spec = { dim: 16, depth: 2, heads: 2, mlp: 32, patch: 4, image: 8 };
    const vit = new TinyVit(spec, randomTinyVitWeights(spec, 3));
    const g = new GraphBuilder('vit');
    const pixels = g.input('pixels', 'float32', ['N', 3, 8, 8]);
    const { cls } = vit.build(g, pixels, { inputSize: [8, 8], lora: DEFAULT_LORA });
    const r = g.constant(randomTensor('float32', [1, 16], 5));
    g.output(g.op('ReduceSum', [g.op('Mul', [cls, r])], { keepdims: 0 }), 'loss');
    const graph = g.build();
    const feeds = { pixels: randomTensor('float32', [3, 3, 8, 8], 11, 3), ...trainableFeeds(graph, 17) };
    const wrt = Object.keys(feeds).filter((k) => k !== 'pixels');
    const res = await checkGradients(graph, 'loss', feeds, wrt, { step: 6e-2 });
    for (const [name, r2] of res) expect(r2.relError, `${name}: ${JSON.stringify(r2)}`).toBeLessThan(1e-3);
    // Frozen weights get no gradient work: no backward node consumes them except through the forward.
    const grad = buildGradientGraph(graph, { loss: 'loss', wrt });
    expect(grad.outputs.map((o) => o.name)).toEqual(['out.loss', ...wrt.map((w) => `grad.${w}`)]);
  });
});
