import {
  type Graph,
  GraphBuilder,
  gelu,
  layerNorm,
  linear,
  OnnxSession,
  softmax,
  type Tensor,
  tensor,
  toOnnx,
  withPrecision,
} from '@anymc3d/core/graph';
import { cosine, maxAbsDifference } from '@anymc3d/core/testing';
import { Random } from '@anymc3d/core/util';
import { median } from './harness.js';

/**
 * int8 vs fp32 on any frozen graph: build both sessions, time them on the same feeds, compare
 * outputs. A real backbone plugs in by passing the graph its `build()` makes.
 */

export interface PrecisionResult {
  label: string;
  fp32PerSecond: number;
  int8PerSecond: number;
  cosine: number;
  maxAbsDiff: number;
  quantizedMatMuls: number;
  floatMatMuls: number;
  /** The fp32 graph's first output on the feeds, for comparing other arithmetic with it. */
  reference: Float32Array;
}

export interface GraphTiming {
  /** Median seconds per run. */
  median: number;
  /** The first (warm-up) run's outputs. */
  first: Record<string, Tensor>;
}

/**
 * Each graph's session built and warmed once, then timed in rounds that run every graph once, so
 * this VM's drift (the same step has moved by half between hours) falls on every row alike;
 * `midway` runs once, between the rounds' two halves (a peer timed in the same minutes).
 */
export async function timeGraphs(
  graphs: readonly Graph[],
  feeds: Record<string, Tensor>,
  options: { threads: number; iterations: number; midway?: () => Promise<void>; allowSpinning?: boolean },
): Promise<GraphTiming[]> {
  const sessions: OnnxSession[] = [];
  const engine = {
    threads: options.threads,
    ...(options.allowSpinning !== undefined ? { allowSpinning: options.allowSpinning } : {}),
  };
  try {
    for (const graph of graphs) sessions.push(await OnnxSession.create(toOnnx(graph), engine));
    const first: Record<string, Tensor>[] = [];
    for (const session of sessions) first.push(await session.run(feeds));
    const seconds: number[][] = sessions.map(() => []);
    for (let round = 0; round < options.iterations; round++) {
      if (round === Math.floor(options.iterations / 2)) await options.midway?.();
      for (const [i, session] of sessions.entries()) {
        const t = performance.now();
        await session.run(feeds);
        seconds[i]!.push((performance.now() - t) / 1000);
      }
    }
    return seconds.map((s, i) => ({ median: median(s), first: first[i]! }));
  } finally {
    for (const session of sessions) await session.release();
  }
}

export async function int8VersusFp32(
  label: string,
  graph: Graph,
  feeds: Record<string, Tensor>,
  items: number,
  options: { threads: number; iterations: number },
): Promise<PrecisionResult> {
  const output = graph.outputs[0]!.name;
  const { graph: int8, provenance } = withPrecision(graph, 'int8');
  const [fp32, q] = (await timeGraphs([graph, int8], feeds, options)) as [GraphTiming, GraphTiming];
  const a = fp32.first[output]!.data as Float32Array;
  const b = q.first[output]!.data as Float32Array;
  return {
    label,
    fp32PerSecond: items / fp32.median,
    int8PerSecond: items / q.median,
    cosine: cosine(a, b),
    maxAbsDiff: maxAbsDifference(b, a),
    quantizedMatMuls: provenance.quantizedMatMuls,
    floatMatMuls: provenance.floatMatMuls,
    reference: a,
  };
}

function random(dims: number[], seed: number, scale: number): Tensor {
  const r = new Random(seed);
  return tensor(
    'float32',
    dims,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.uniform(-0.5, 0.5) * scale),
  );
}

export interface VitLikeShape {
  tokens: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
}

/** ViT-S/16 at 224² by default: 197 tokens, width 384, 12 blocks, 6 heads, MLP ×4; random weights. */
export const VIT_S: VitLikeShape = { tokens: 197, dim: 384, depth: 12, heads: 6, mlpRatio: 4 };

/** A pre-norm ViT encoder (fused qkv, multi-head attention, GELU MLP) in the graph IR. */
export function vitLikeStack(shape: VitLikeShape = VIT_S, seed = 1): Graph {
  const { tokens, dim, depth, heads, mlpRatio } = shape;
  const hd = dim / heads;
  const g = new GraphBuilder('vit_like');
  let x = g.input('tokens', 'float32', ['N', tokens, dim]);
  const ones = tensor('float32', [dim], new Float32Array(dim).fill(1));
  const w = (name: string, dims: [number, number], k: number) =>
    g.param(name, random(dims, seed * 1000 + k, 2 * Math.sqrt(3 / dims[0])));
  const zeros = (name: string, n: number) => g.param(name, tensor('float32', [n]));
  for (let b = 0; b < depth; b++) {
    x = g.scope(`blocks.${b}`, () => {
      const h = layerNorm(g, x, g.param('norm1.weight', ones), zeros('norm1.bias', dim), 1e-6);
      const qkv = linear(g, h, w('attn.qkv.weightT', [dim, 3 * dim], 10 * b + 1), zeros('attn.qkv.bias', 3 * dim));
      const split = g.op('Transpose', [g.op('Reshape', [qkv, g.ints([-1, tokens, 3, heads, hd])])], {
        perm: [2, 0, 3, 1, 4],
      });
      const part = (i: number) =>
        g.op('Squeeze', [g.op('Slice', [split, g.ints([i]), g.ints([i + 1]), g.ints([0])]), g.ints([0])]);
      const [q, k, v] = [part(0), part(1), part(2)];
      const scores = g.op('Mul', [
        g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
        g.scalar(1 / Math.sqrt(hd)),
      ]);
      const ctx = g.op('MatMul', [softmax(g, scores), v]);
      const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.ints([-1, tokens, dim])]);
      const x1 = g.op('Add', [
        x,
        linear(g, merged, w('attn.proj.weightT', [dim, dim], 10 * b + 2), zeros('attn.proj.bias', dim)),
      ]);
      const h2 = layerNorm(g, x1, g.param('norm2.weight', ones), zeros('norm2.bias', dim), 1e-6);
      const m = linear(
        g,
        gelu(
          g,
          linear(g, h2, w('mlp.fc1.weightT', [dim, mlpRatio * dim], 10 * b + 3), zeros('mlp.fc1.bias', mlpRatio * dim)),
        ),
        w('mlp.fc2.weightT', [mlpRatio * dim, dim], 10 * b + 4),
        zeros('mlp.fc2.bias', dim),
      );
      return g.op('Add', [x1, m]);
    });
  }
  g.output(layerNorm(g, x, g.param('norm.weight', ones), zeros('norm.bias', dim), 1e-6), 'out');
  return g.build();
}

export function vitLikeInput(batch: number, shape: VitLikeShape = VIT_S): Tensor {
  return random([batch, shape.tokens, shape.dim], 7, 2);
}
