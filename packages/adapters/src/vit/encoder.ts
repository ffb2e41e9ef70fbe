import type { BackboneValues, LoraConfig, LoraTarget } from '@anymc3d/core/backbone';
import { loraConv, loraDelta, loraLinear } from '@anymc3d/core/backbone';
import { f, type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';
import { applyRope, type RopeTables } from './rope.js';

/**
 * The pre-norm ViT trunk every ViT family here shares, in the graph IR: patch conv → token
 * sequence [prefix tokens, patches] + per-token offsets → optional LayerNorm (CLIP's
 * pre_layrnorm) → blocks (LayerNorm → attention with a fused qkv → LayerScale → residual;
 * LayerNorm → MLP or gated MLP → LayerScale → residual). The families differ in what the offsets
 * hold (DINOv2, CLIP: learned absolute positions; DINOv3: none), whether q/k rotate (DINOv3), and
 * what follows the last block (`vitEncoder`: DINO's final LayerNorm over all tokens; CLIP and
 * SigLIP have their own heads).
 */

/** `gelu` is exact (erf); `gelu_tanh` is HF's gelu_pytorch_tanh; `quick_gelu` is x·σ(1.702x). */
export type Activation = 'gelu' | 'gelu_tanh' | 'quick_gelu' | 'silu';

export type Ffn =
  | { kind: 'mlp'; act: Activation; fc1T: Tensor; fc1B?: Tensor; fc2T: Tensor; fc2B?: Tensor }
  | {
      kind: 'gated';
      act: Activation;
      gateT: Tensor;
      gateB?: Tensor;
      upT: Tensor;
      upB?: Tensor;
      outT: Tensor;
      outB?: Tensor;
    };

/** One block's weights; linear weights transposed to [in, out], q/k/v fused into one [d, 3d]. */
export interface BlockWeights {
  norm1W: Tensor;
  norm1B: Tensor;
  qkvT: Tensor;
  qkvB?: Tensor;
  projT: Tensor;
  projB?: Tensor;
  /** LayerScale (DINO); CLIP and SigLIP have none. */
  scale1?: Tensor;
  norm2W: Tensor;
  norm2B: Tensor;
  ffn: Ffn;
  scale2?: Tensor;
}

export interface TrunkWeights {
  patchW: Tensor;
  /** CLIP's patch conv has no bias. */
  patchB?: Tensor;
  /** LayerNorm on the embedded sequence before the first block (CLIP's `pre_layrnorm`). */
  preNorm?: { weight: Tensor; bias: Tensor };
  blocks: BlockWeights[];
}

export interface EncoderWeights extends TrunkWeights {
  normW: Tensor;
  normB: Tensor;
}

export interface EncoderSpec {
  hiddenSize: number;
  heads: number;
  patchSize: number;
  layerNormEps: number;
  grid: [number, number];
  /** CLS + registers. */
  prefix: number;
  /** [1, prefix + P, d]: added to [0 (CLS, register slots), patch embeddings]. */
  tokenOffsets: Tensor;
  /** Rotary tables for q and k ([T, hd] each), when the family uses RoPE. */
  rope?: RopeTables;
  lora?: LoraConfig;
  targets: LoraTarget[];
  attention?: boolean;
  /**
   * The last block for the CLS query alone (BuildOptions.patchTokens false): its keys and values
   * still come from every token, but the attention rows, output projection, MLP and norms run on
   * one token, so `hidden` is [N, 1, d] and there are no patch tokens.
   */
  clsOnly?: boolean;
  /** BuildOptions.fusedAttention: every block but the last runs its attention as one kernel. */
  fusedAttention?: boolean;
}

/** A ViT's patch grid for an input size; an input that is not a multiple of the patch size is refused. */
export function patchGrid(model: string, inputSize: readonly [number, number], patch: number): [number, number] {
  const [h, w] = inputSize;
  if (!(h > 0 && w > 0 && h % patch === 0 && w % patch === 0)) {
    throw new Error(`${model}: input size ${h}×${w} is not a positive multiple of the patch size ${patch}`);
  }
  return [h / patch, w / patch];
}

/**
 * LoRA attachment points: the patch embedding, each block's attention output projection, and
 * its q/k/v — one pair on the fused qkv (DINO, as in the paper and timm), or one pair each on
 * q, k and v where the family keeps them as separate projections (CLIP, SigLIP).
 */
export function vitLoraTargets(
  c: { hiddenSize: number; patchSize: number; layers: number },
  qkv: 'fused' | 'separate' = 'fused',
): LoraTarget[] {
  const { hiddenSize: d, patchSize: p } = c;
  const targets: LoraTarget[] = [
    { name: 'patch_embed', kind: 'conv', inFeatures: 3, outFeatures: d, kernel: [p, p], stride: [p, p] },
  ];
  const linear = (name: string, out: number): LoraTarget => ({ name, kind: 'linear', inFeatures: d, outFeatures: out });
  for (let i = 0; i < c.layers; i++) {
    if (qkv === 'fused') targets.push(linear(`blocks.${i}.qkv`, 3 * d));
    else for (const part of ['q', 'k', 'v']) targets.push(linear(`blocks.${i}.${part}`, d));
    targets.push(linear(`blocks.${i}.proj`, d));
  }
  return targets;
}

/**
 * The trunk's result: the last block's output [N, T, d] (no final norm) and its attention
 * [N, H, T, T] — [N, 1, d] and [N, H, 1, T] with `clsOnly`, the CLS token's alone.
 */
export interface TrunkValues {
  hidden: Value;
  probs: Value;
  tokens: number;
}

export type TrunkSpec = Omit<EncoderSpec, 'attention'>;

/** DINO's ending: the final LayerNorm over every token; CLS is token 0, patches follow the prefix. */
export function vitEncoder(g: GraphBuilder, pixels: Value, w: EncoderWeights, s: EncoderSpec): BackboneValues {
  const { hidden, probs, tokens: T } = vitTrunk(g, pixels, w, s);
  const normed = layerNorm(g, hidden, g.param('norm.weight', w.normW), g.param('norm.bias', w.normB), s.layerNormEps);
  const cls = g.op('Gather', [normed, g.constant(tensor('int64', [], [0]))], { axis: 1 });
  const values: BackboneValues = { cls, grid: s.grid };
  if (!s.clsOnly) values.patchTokens = g.op('Slice', [normed, g.ints([s.prefix]), g.ints([T]), g.ints([1])]);
  if (s.attention) values.attention = clsAttention(g, probs, s.prefix, T);
  return values;
}

/**
 * Token 0's attention row over the patch keys (prefix tokens excluded), mean over heads; the
 * probabilities are reported as they are, not renormalised over the patches.
 */
export function clsAttention(g: GraphBuilder, probs: Value, prefix: number, tokens: number): Value {
  const row = g.op('Slice', [probs, g.ints([0, prefix]), g.ints([1, tokens]), g.ints([2, 3])]);
  return g.op('ReduceMean', [row], { axes: [1, 2], keepdims: 0 });
}

export function vitTrunk(g: GraphBuilder, pixels: Value, w: TrunkWeights, s: TrunkSpec): TrunkValues {
  const { hiddenSize: d, patchSize: p, prefix, grid } = s;
  const P = grid[0] * grid[1];
  const T = prefix + P;
  const targets = new Map(s.targets.map((t) => [t.name, t]));
  const patches = loraConv(
    g,
    pixels,
    g.param('patch_embed.weight', w.patchW),
    w.patchB ? g.param('patch_embed.bias', w.patchB) : undefined,
    targets.get('patch_embed')!,
    s.lora,
    { strides: [p, p] },
  );
  const seq = g.op('Transpose', [g.op('Reshape', [patches, g.ints([0, d, P])])], { perm: [0, 2, 1] });
  const padded = prefix > 0 ? g.op('Pad', [seq, g.ints([0, prefix, 0, 0, 0, 0])], { mode: 'constant' }) : seq;
  let x = g.op('Add', [padded, g.param(`token_offsets_${grid.join('x')}`, s.tokenOffsets)]);
  if (w.preNorm) {
    const { weight, bias } = w.preNorm;
    x = layerNorm(g, x, g.param('pre_norm.weight', weight), g.param('pre_norm.bias', bias), s.layerNormEps);
  }
  const rope = s.rope && {
    cos: g.constant(s.rope.cos, `rope_cos_${grid.join('x')}`),
    sinSigned: g.constant(s.rope.sinSigned, `rope_sin_${grid.join('x')}`),
  };
  let lastProbs: Value | undefined;
  const last = w.blocks.length - 1;
  w.blocks.forEach((b, i) => {
    g.scope(`blocks.${i}`, () => {
      const part = (name: string) => targets.get(`blocks.${i}.${name}`);
      const fused = part('qkv');
      const out = block(g, x, b, {
        hiddenSize: d,
        heads: s.heads,
        tokens: T,
        eps: s.layerNormEps,
        qkv: fused ?? [part('q')!, part('k')!, part('v')!],
        proj: part('proj')!,
        clsQuery: s.clsOnly === true && i === last,
        // The last block's probabilities are the heatmaps' attention, so it keeps the explicit form.
        fusedAttention: s.fusedAttention === true && i !== last,
        ...(s.lora ? { lora: s.lora } : {}),
        ...(rope ? { rope } : {}),
      });
      x = out.x;
      lastProbs = out.probs;
    });
  });
  if (!lastProbs) throw new Error('a ViT needs at least one block');
  return { hidden: x, probs: lastProbs, tokens: T };
}

export function layerNorm(g: GraphBuilder, x: Value, weight: Value, bias: Value, eps: number): Value {
  // Mean and inverse deviation are outputs too: the gradient reads them instead of recomputing both.
  return g.op('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: f(eps) });
}

interface BlockSpec {
  hiddenSize: number;
  heads: number;
  tokens: number;
  eps: number;
  /** One target on the fused projection, or q, k, v targets on its three parts. */
  qkv: LoraTarget | [LoraTarget, LoraTarget, LoraTarget];
  proj: LoraTarget;
  /** Queries from token 0 (CLS) alone: the block's output is that token's, [N, 1, d]. */
  clsQuery: boolean;
  /** q·kᵀ, softmax and p·v as one com.microsoft MultiHeadAttention (no probabilities, no gradient). */
  fusedAttention: boolean;
  lora?: LoraConfig;
  rope?: { cos: Value; sinSigned: Value };
}

function block(g: GraphBuilder, x: Value, b: BlockWeights, s: BlockSpec): { x: Value; probs?: Value } {
  const h = layerNorm(g, x, g.param('norm1.weight', b.norm1W), g.param('norm1.bias', b.norm1B), s.eps);
  // Token 0 alone: each token's output depends on its own query, residual and MLP only.
  const residual = s.clsQuery ? g.op('Slice', [x, g.ints([0]), g.ints([1]), g.ints([1])]) : x;
  // The fused kernel takes every token's query; the CLS-alone block is the last, which stays explicit.
  if (s.fusedAttention && s.clsQuery) throw new Error('a block runs either fused attention or the CLS query alone');
  const { context, probs } = s.fusedAttention ? fusedAttention(g, h, b, s) : explicitAttention(g, h, b, s);
  const attn = loraLinear(
    g,
    context,
    g.param('proj.weightT', b.projT),
    b.projB ? g.param('proj.bias', b.projB) : undefined,
    s.proj,
    s.lora,
  );
  const x1 = g.op('Add', [b.scale1 ? g.op('Mul', [attn, g.param('ls1', b.scale1)]) : attn, residual]);
  const h2 = layerNorm(g, x1, g.param('norm2.weight', b.norm2W), g.param('norm2.bias', b.norm2B), s.eps);
  const ffn = feedForward(g, h2, b.ffn);
  return { x: g.op('Add', [b.scale2 ? g.op('Mul', [ffn, g.param('ls2', b.scale2)]) : ffn, x1]), probs };
}

/**
 * The block's q, k, v projection: the frozen weights as one MatMul, LoRA on it (`fused`, [N, T, 3d])
 * or on each of its three parts (`parts`, [N, T, d] each).
 */
function projectQkv(
  g: GraphBuilder,
  h: Value,
  b: BlockWeights,
  s: BlockSpec,
): { fused: Value; parts?: undefined } | { fused?: undefined; parts: [Value, Value, Value] } {
  const d = s.hiddenSize;
  const qkvWeight = g.param('qkv.weightT', b.qkvT);
  const qkvBias = b.qkvB ? g.param('qkv.bias', b.qkvB) : undefined;
  const deltas = Array.isArray(s.qkv) ? s.qkv.map((t) => loraDelta(g, h, t, s.lora)) : [];
  if (!Array.isArray(s.qkv) || deltas.every((delta) => !delta)) {
    const target = Array.isArray(s.qkv) ? undefined : s.qkv;
    return {
      fused: target ? loraLinear(g, h, qkvWeight, qkvBias, target, s.lora) : linear(g, h, qkvWeight, qkvBias),
    };
  }
  // The frozen weights still run as one MatMul; each part then gets its own low-rank term.
  const parts = g.opMulti('Split', [linear(g, h, qkvWeight, qkvBias), g.ints([d, d, d])], { axis: -1 });
  return {
    parts: [0, 1, 2].map((i) => {
      const delta = deltas[i];
      return delta ? g.op('Add', [parts[i]!, delta]) : parts[i]!;
    }) as [Value, Value, Value],
  };
}

/** Attention with its probabilities as a value ([N, H, rows, T]): differentiable, and the heatmaps read it. */
function explicitAttention(g: GraphBuilder, h: Value, b: BlockWeights, s: BlockSpec): { context: Value; probs: Value } {
  const { hiddenSize: d, heads: H, tokens: T } = s;
  const hd = d / H;
  let q: Value;
  let k: Value;
  let v: Value;
  const projected = projectQkv(g, h, b, s);
  if (projected.fused) {
    // [N,T,3d] → [3,N,H,T,hd]
    const heads = g.op('Transpose', [g.op('Reshape', [projected.fused, g.ints([0, T, 3, H, hd])])], {
      perm: [2, 0, 3, 1, 4],
    });
    // Split, not three Gathers: the same forward (ONNX Runtime fuses the Gathers into a Split),
    // but its gradient is one Concat, where each Gather's is a one-hot product over all of qkv.
    [q, k, v] = g
      .opMulti('Split', [heads, g.ints([1, 1, 1])], { axis: 0 })
      .map((part) => g.op('Squeeze', [part, g.ints([0])])) as [Value, Value, Value];
  } else {
    const toHeads = (y: Value) =>
      g.op('Transpose', [g.op('Reshape', [y, g.ints([0, T, H, hd])])], { perm: [0, 2, 1, 3] });
    [q, k, v] = projected.parts.map(toHeads) as [Value, Value, Value];
  }
  if (s.rope) {
    q = applyRope(g, q, hd, s.rope.cos, s.rope.sinSigned);
    k = applyRope(g, k, hd, s.rope.cos, s.rope.sinSigned);
  }
  const rows = s.clsQuery ? 1 : T;
  if (s.clsQuery) q = g.op('Slice', [q, g.ints([0]), g.ints([1]), g.ints([2])]);
  const scores = g.op('Mul', [
    g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
    g.scalar(hd ** -0.5),
  ]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const context = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
    g.ints([0, rows, d]),
  ]);
  return { context, probs };
}

/**
 * The same attention as ONNX Runtime's com.microsoft MultiHeadAttention on [N, T, d] queries, keys
 * and values: no head transposes, and on CPU a tiled (flash) kernel that never writes the [N, H,
 * T, T] scores. It gives no probabilities and has no gradient rule here, so only inference graphs
 * use it; nor does the last block (the CLS query alone, the heatmaps' probabilities). RoPE rotates
 * q and k as [N, T, H, hd], the tables broadcast over the heads.
 */
function fusedAttention(
  g: GraphBuilder,
  h: Value,
  b: BlockWeights,
  s: BlockSpec,
): { context: Value; probs?: undefined } {
  const { hiddenSize: d, heads: H, tokens: T } = s;
  const hd = d / H;
  const projected = projectQkv(g, h, b, s);
  let [q, k, v] = projected.fused
    ? (g.opMulti('Split', [projected.fused, g.ints([d, d, d])], { axis: -1 }) as [Value, Value, Value])
    : projected.parts;
  if (s.rope) {
    const perHead = (table: Value) => g.op('Unsqueeze', [table, g.ints([1])]);
    const [cos, sin] = [perHead(s.rope.cos), perHead(s.rope.sinSigned)];
    const rotate = (y: Value) =>
      g.op('Reshape', [applyRope(g, g.op('Reshape', [y, g.ints([0, T, H, hd])]), hd, cos, sin), g.ints([0, T, d])]);
    [q, k] = [rotate(q), rotate(k)];
  }
  const context = g.op(
    'MultiHeadAttention',
    [q, k, v],
    { num_heads: H, scale: f(hd ** -0.5) },
    { domain: 'com.microsoft', outputs: [{ dtype: 'float32', shape: [h.shape[0]!, T, d] }] },
  );
  return { context };
}

function linear(g: GraphBuilder, x: Value, weightT: Value, bias: Value | undefined): Value {
  const y = g.op('MatMul', [x, weightT]);
  return bias ? g.op('Add', [y, bias]) : y;
}

export function activation(g: GraphBuilder, u: Value, act: Activation): Value {
  if (act === 'silu') return g.op('Mul', [u, g.op('Sigmoid', [u])]);
  if (act === 'quick_gelu') return g.op('Mul', [u, g.op('Sigmoid', [g.op('Mul', [u, g.scalar(1.702)])])]);
  if (act === 'gelu_tanh') {
    // 0.5·u·(1 + tanh(√(2/π)·(u + 0.044715·u³)))
    const cube = g.op('Mul', [g.op('Mul', [u, u]), u]);
    const inner = g.op('Mul', [
      g.op('Add', [u, g.op('Mul', [cube, g.scalar(0.044715)])]),
      g.scalar(Math.sqrt(2 / Math.PI)),
    ]);
    return g.op('Mul', [g.op('Mul', [u, g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]), g.scalar(0.5)]);
  }
  // Exact GELU in the Div→Erf→Add→Mul→Mul form ONNX Runtime fuses (with the bias) into one kernel.
  const e = g.op('Erf', [g.op('Div', [u, g.scalar(Math.SQRT2)])]);
  return g.op('Mul', [g.op('Mul', [u, g.op('Add', [e, g.scalar(1)])]), g.scalar(0.5)]);
}

export function feedForward(g: GraphBuilder, x: Value, ffn: Ffn): Value {
  const lin = (input: Value, name: string, wT: Tensor, bias: Tensor | undefined) => {
    const y = g.op('MatMul', [input, g.param(`${name}.weightT`, wT)]);
    return bias ? g.op('Add', [y, g.param(`${name}.bias`, bias)]) : y;
  };
  if (ffn.kind === 'mlp') {
    return lin(activation(g, lin(x, 'fc1', ffn.fc1T, ffn.fc1B), ffn.act), 'fc2', ffn.fc2T, ffn.fc2B);
  }
  const gate = activation(g, lin(x, 'gate', ffn.gateT, ffn.gateB), ffn.act);
  const hidden = g.op('Mul', [gate, lin(x, 'up', ffn.upT, ffn.upB)]);
  return lin(hidden, 'out', ffn.outT, ffn.outB);
}
