import type { BackboneValues, LoraConfig, LoraTarget } from '@anymc3d/core/backbone';
import { loraConv, loraLinear } from '@anymc3d/core/backbone';
import { f, type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';
import { applyRope, type RopeTables } from './rope.js';

/**
 * The pre-norm ViT encoder DINOv2 and DINOv3 share, in the graph IR: patch conv → token
 * sequence [CLS, registers, patches] + per-token offsets → blocks (LayerNorm → attention with a
 * fused qkv → LayerScale → residual; LayerNorm → MLP or gated MLP → LayerScale → residual) →
 * final LayerNorm. The families differ only in what the offsets hold (DINOv2: learned absolute
 * positions) and whether q/k rotate (DINOv3: RoPE on the patch tokens).
 */

export type Activation = 'gelu' | 'silu';

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
  scale1: Tensor;
  norm2W: Tensor;
  norm2B: Tensor;
  ffn: Ffn;
  scale2: Tensor;
}

export interface EncoderWeights {
  patchW: Tensor;
  patchB: Tensor;
  blocks: BlockWeights[];
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
}

/** LoRA attachment points: the patch embedding, and each block's fused qkv and output projection. */
/** A ViT's patch grid for an input size; an input that is not a multiple of the patch size is refused. */
export function patchGrid(model: string, inputSize: readonly [number, number], patch: number): [number, number] {
  const [h, w] = inputSize;
  if (!(h > 0 && w > 0 && h % patch === 0 && w % patch === 0)) {
    throw new Error(`${model}: input size ${h}×${w} is not a positive multiple of the patch size ${patch}`);
  }
  return [h / patch, w / patch];
}

export function vitLoraTargets(c: { hiddenSize: number; patchSize: number; layers: number }): LoraTarget[] {
  const { hiddenSize: d, patchSize: p } = c;
  const targets: LoraTarget[] = [
    { name: 'patch_embed', kind: 'conv', inFeatures: 3, outFeatures: d, kernel: [p, p], stride: [p, p] },
  ];
  for (let i = 0; i < c.layers; i++) {
    targets.push({ name: `blocks.${i}.qkv`, kind: 'linear', inFeatures: d, outFeatures: 3 * d });
    targets.push({ name: `blocks.${i}.proj`, kind: 'linear', inFeatures: d, outFeatures: d });
  }
  return targets;
}

export function vitEncoder(g: GraphBuilder, pixels: Value, w: EncoderWeights, s: EncoderSpec): BackboneValues {
  const { hiddenSize: d, patchSize: p, prefix, grid } = s;
  const P = grid[0] * grid[1];
  const T = prefix + P;
  const targets = new Map(s.targets.map((t) => [t.name, t]));
  const patches = loraConv(
    g,
    pixels,
    g.param('patch_embed.weight', w.patchW),
    g.param('patch_embed.bias', w.patchB),
    targets.get('patch_embed')!,
    s.lora,
    { strides: [p, p] },
  );
  const seq = g.op('Transpose', [g.op('Reshape', [patches, g.ints([0, d, P])])], { perm: [0, 2, 1] });
  const padded = g.op('Pad', [seq, g.ints([0, prefix, 0, 0, 0, 0])], { mode: 'constant' });
  let x = g.op('Add', [padded, g.param(`token_offsets_${grid.join('x')}`, s.tokenOffsets)]);
  const rope = s.rope && {
    cos: g.constant(s.rope.cos, `rope_cos_${grid.join('x')}`),
    sinSigned: g.constant(s.rope.sinSigned, `rope_sin_${grid.join('x')}`),
  };
  let lastProbs: Value | undefined;
  w.blocks.forEach((b, i) => {
    g.scope(`blocks.${i}`, () => {
      const out = block(g, x, b, {
        hiddenSize: d,
        heads: s.heads,
        tokens: T,
        eps: s.layerNormEps,
        qkv: targets.get(`blocks.${i}.qkv`)!,
        proj: targets.get(`blocks.${i}.proj`)!,
        ...(s.lora ? { lora: s.lora } : {}),
        ...(rope ? { rope } : {}),
      });
      x = out.x;
      lastProbs = out.probs;
    });
  });
  const normed = layerNorm(g, x, g.param('norm.weight', w.normW), g.param('norm.bias', w.normB), s.layerNormEps);
  const cls = g.op('Gather', [normed, g.constant(tensor('int64', [], [0]))], { axis: 1 });
  const patchTokens = g.op('Slice', [normed, g.ints([prefix]), g.ints([T]), g.ints([1])]);
  const values: BackboneValues = { cls, patchTokens, grid };
  if (s.attention && lastProbs) {
    // CLS query row, patch key columns (registers and CLS excluded), mean over heads; the
    // probabilities are reported as they are, not renormalised over the patches.
    const row = g.op('Slice', [lastProbs, g.ints([0, prefix]), g.ints([1, T]), g.ints([2, 3])]);
    values.attention = g.op('ReduceMean', [row], { axes: [1, 2], keepdims: 0 });
  }
  return values;
}

export function layerNorm(g: GraphBuilder, x: Value, weight: Value, bias: Value, eps: number): Value {
  return g.op('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: f(eps) }, { count: 1 });
}

interface BlockSpec {
  hiddenSize: number;
  heads: number;
  tokens: number;
  eps: number;
  qkv: LoraTarget;
  proj: LoraTarget;
  lora?: LoraConfig;
  rope?: { cos: Value; sinSigned: Value };
}

function block(g: GraphBuilder, x: Value, b: BlockWeights, s: BlockSpec): { x: Value; probs: Value } {
  const { hiddenSize: d, heads: H, tokens: T } = s;
  const hd = d / H;
  const h = layerNorm(g, x, g.param('norm1.weight', b.norm1W), g.param('norm1.bias', b.norm1B), s.eps);
  const qkv = loraLinear(
    g,
    h,
    g.param('qkv.weightT', b.qkvT),
    b.qkvB ? g.param('qkv.bias', b.qkvB) : undefined,
    s.qkv,
    s.lora,
  );
  // [N,T,3d] → [3,N,H,T,hd]
  const heads = g.op('Transpose', [g.op('Reshape', [qkv, g.ints([0, T, 3, H, hd])])], { perm: [2, 0, 3, 1, 4] });
  const pick = (k: number) => g.op('Gather', [heads, g.constant(tensor('int64', [], [k]))], { axis: 0 });
  let [q, k] = [pick(0), pick(1)];
  const v = pick(2);
  if (s.rope) {
    q = applyRope(g, q, hd, s.rope.cos, s.rope.sinSigned);
    k = applyRope(g, k, hd, s.rope.cos, s.rope.sinSigned);
  }
  const scores = g.op('Mul', [
    g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
    g.scalar(hd ** -0.5),
  ]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const context = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
    g.ints([0, T, d]),
  ]);
  const attn = loraLinear(
    g,
    context,
    g.param('proj.weightT', b.projT),
    b.projB ? g.param('proj.bias', b.projB) : undefined,
    s.proj,
    s.lora,
  );
  const x1 = g.op('Add', [g.op('Mul', [attn, g.param('ls1', b.scale1)]), x]);
  const h2 = layerNorm(g, x1, g.param('norm2.weight', b.norm2W), g.param('norm2.bias', b.norm2B), s.eps);
  const ffn = feedForward(g, h2, b.ffn);
  return { x: g.op('Add', [g.op('Mul', [ffn, g.param('ls2', b.scale2)]), x1]), probs };
}

function activation(g: GraphBuilder, u: Value, act: Activation): Value {
  if (act === 'silu') return g.op('Mul', [u, g.op('Sigmoid', [u])]);
  // Exact GELU in the Div→Erf→Add→Mul→Mul form ONNX Runtime fuses (with the bias) into one kernel.
  const e = g.op('Erf', [g.op('Div', [u, g.scalar(Math.SQRT2)])]);
  return g.op('Mul', [g.op('Mul', [u, g.op('Add', [e, g.scalar(1)])]), g.scalar(0.5)]);
}

function feedForward(g: GraphBuilder, x: Value, ffn: Ffn): Value {
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
