import { createHash } from 'node:crypto';
import { type LoraConfig, loraConv, loraLinear } from '../backbone/lora.js';
import type { Backbone, BackboneCard, BackboneValues, BuildOptions, LoraTarget } from '../backbone/types.js';
import { f, type GraphBuilder, type Tensor, tensor, type Value } from '../graph/index.js';
import { gelu, softmax } from '../graph/nn.js';
import { Random } from '../util/random.js';

/**
 * A small DINOv2-shaped ViT written directly in core's graph IR, for tests and benchmarks only:
 * patch-embed Conv (LoRA-adaptable), CLS + position embedding, pre-LN blocks with fused qkv and
 * out-proj (LoRA-adaptable), softmax attention, exact-GELU MLP, LayerScale, final LN. Weights are
 * in PyTorch layout (Linear [out,in]) so a Python reference can hold the very same tensors.
 */
export interface TinyVitSpec {
  dim: number;
  depth: number;
  heads: number;
  mlp: number;
  patch: number;
  image: number;
  dtype?: 'float32' | 'float64';
}

export type Weights = ReadonlyMap<string, Tensor>;

/** Names and PyTorch shapes of the frozen weights. */
export function tinyVitWeightShapes(s: TinyVitSpec): [string, number[]][] {
  const tokens = (s.image / s.patch) ** 2 + 1;
  const list: [string, number[]][] = [
    ['patch_embed.proj.weight', [s.dim, 3, s.patch, s.patch]],
    ['patch_embed.proj.bias', [s.dim]],
    ['cls_token', [1, 1, s.dim]],
    ['pos_embed', [1, tokens, s.dim]],
  ];
  for (let b = 0; b < s.depth; b++) {
    const p = `blocks.${b}`;
    list.push(
      [`${p}.norm1.weight`, [s.dim]],
      [`${p}.norm1.bias`, [s.dim]],
      [`${p}.attn.qkv.weight`, [3 * s.dim, s.dim]],
      [`${p}.attn.qkv.bias`, [3 * s.dim]],
      [`${p}.attn.proj.weight`, [s.dim, s.dim]],
      [`${p}.attn.proj.bias`, [s.dim]],
      [`${p}.ls1.gamma`, [s.dim]],
      [`${p}.norm2.weight`, [s.dim]],
      [`${p}.norm2.bias`, [s.dim]],
      [`${p}.mlp.fc1.weight`, [s.mlp, s.dim]],
      [`${p}.mlp.fc1.bias`, [s.mlp]],
      [`${p}.mlp.fc2.weight`, [s.dim, s.mlp]],
      [`${p}.mlp.fc2.bias`, [s.dim]],
      [`${p}.ls2.gamma`, [s.dim]],
    );
  }
  list.push(['norm.weight', [s.dim]], ['norm.bias', [s.dim]]);
  return list;
}

/** Seeded random weights (norm scales near 1, LayerScale near 0.1, the rest ~N(0, 0.02–0.2)). */
export function randomTinyVitWeights(s: TinyVitSpec, seed: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, dims] of tinyVitWeightShapes(s)) {
    const rand = Random.fromString(seed, name);
    const n = dims.reduce((p, q) => p * q, 1);
    const fanIn = dims.length > 1 ? n / dims[0]! : 1;
    const gen = name.includes('norm')
      ? () => (name.endsWith('weight') ? 1 + 0.1 * rand.normal() : 0.1 * rand.normal())
      : name.includes('ls')
        ? () => 0.1 + 0.05 * rand.normal()
        : () => rand.normal() / Math.sqrt(fanIn);
    out.set(name, tensor('float64', dims, Float64Array.from({ length: n }, gen)));
  }
  return out;
}

/** LoRA attachment points: patch embedding, fused qkv and out-proj of every block. */
export function tinyVitLoraTargets(spec: Pick<TinyVitSpec, 'dim' | 'depth' | 'patch'>): LoraTarget[] {
  const { dim, patch } = spec;
  const t: LoraTarget[] = [
    {
      name: 'patch_embed.proj',
      kind: 'conv',
      inFeatures: 3,
      outFeatures: dim,
      kernel: [patch, patch],
      stride: [patch, patch],
    },
  ];
  for (let b = 0; b < spec.depth; b++) {
    t.push({ name: `blocks.${b}.attn.qkv`, kind: 'linear', inFeatures: dim, outFeatures: 3 * dim });
    t.push({ name: `blocks.${b}.attn.proj`, kind: 'linear', inFeatures: dim, outFeatures: dim });
  }
  return t;
}

function castTo(t: Tensor, dtype: 'float32' | 'float64'): Tensor {
  if (t.dtype === dtype) return t;
  return tensor(
    dtype,
    t.dims,
    dtype === 'float64' ? Float64Array.from(t.data as Float32Array) : Float32Array.from(t.data as Float64Array),
  );
}

function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.dims as [number, number];
  const src = t.data as Float64Array;
  const dst = new (src.constructor as Float64ArrayConstructor)(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j]!;
  return tensor(t.dtype, [c, r], dst);
}

export class TinyVit implements Backbone {
  readonly card: BackboneCard;
  readonly weightHash: string;
  private readonly dtype: 'float32' | 'float64';

  constructor(
    readonly spec: TinyVitSpec,
    private readonly weights: Weights,
    name = 'tiny_vit',
  ) {
    this.dtype = spec.dtype ?? 'float32';
    const hash = createHash('sha256');
    for (const [key] of tinyVitWeightShapes(spec)) {
      const w = weights.get(key);
      if (!w) throw new Error(`tiny ViT: weight ${key} missing`);
      hash.update(key);
      hash.update(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    }
    this.weightHash = hash.digest('hex');
    this.card = {
      name,
      family: 'vit',
      architecture: 'vit',
      embedDim: spec.dim,
      patchSize: spec.patch,
      depth: spec.depth,
      heads: spec.heads,
      inputSize: [spec.image, spec.image],
      mean: [0, 0, 0],
      std: [1, 1, 1],
      licence: 'test',
      source: 'generated',
      weightFiles: [],
    };
  }

  loraTargets(): LoraTarget[] {
    return tinyVitLoraTargets(this.spec);
  }

  private w(g: GraphBuilder, name: string, transposed = false): Value {
    const t = castTo(this.weights.get(name)!, this.dtype);
    return g.param(`backbone.${name}${transposed ? '.T' : ''}`, transposed ? transpose2d(t) : t, { scoped: false });
  }

  build(g: GraphBuilder, pixels: Value, options: BuildOptions): BackboneValues {
    const { dim, heads, patch } = this.spec;
    const lora: LoraConfig | undefined = options.lora;
    const targets = new Map(this.loraTargets().map((t) => [t.name, t]));
    const grid = options.inputSize[0] / patch;
    const tokens = grid * grid + 1;
    const hd = dim / heads;
    const emb = loraConv(
      g,
      pixels,
      this.w(g, 'patch_embed.proj.weight'),
      this.w(g, 'patch_embed.proj.bias'),
      targets.get('patch_embed.proj')!,
      lora,
      { strides: [patch, patch] },
    );
    const patches = g.op('Transpose', [g.op('Reshape', [emb, g.ints([0, dim, grid * grid])])], { perm: [0, 2, 1] });
    const batch = g.op('Slice', [g.op('Shape', [pixels]), g.ints([0]), g.ints([1])]);
    const clsShape = g.op('Concat', [batch, g.ints([1, dim])], { axis: 0 });
    const cls = g.op(
      'Expand',
      [this.w(g, 'cls_token'), clsShape],
      {},
      { outputs: [{ dtype: this.dtype, shape: [pixels.shape[0]!, 1, dim] }] },
    );
    let x = g.op('Add', [g.op('Concat', [cls, patches], { axis: 1 }), this.w(g, 'pos_embed')]);
    const ln = (v: Value, name: string) =>
      g.op('LayerNormalization', [v, this.w(g, `${name}.weight`), this.w(g, `${name}.bias`)], {
        axis: -1,
        epsilon: f(1e-6),
      });
    let attention: Value | undefined;
    for (let b = 0; b < this.spec.depth; b++) {
      const p = `blocks.${b}`;
      const h = ln(x, `${p}.norm1`);
      const qkv = loraLinear(
        g,
        h,
        this.w(g, `${p}.attn.qkv.weight`, true),
        this.w(g, `${p}.attn.qkv.bias`),
        targets.get(`${p}.attn.qkv`)!,
        lora,
      );
      const split = g.op('Transpose', [g.op('Reshape', [qkv, g.ints([0, tokens, 3, heads, hd])])], {
        perm: [2, 0, 3, 1, 4],
      });
      const [q, k, v] = g
        .opMulti('Split', [split, g.ints([1, 1, 1])], { axis: 0 })
        .map((part) => g.op('Squeeze', [part, g.ints([0])]));
      const kT = g.op('Transpose', [k!], { perm: [0, 1, 3, 2] });
      const scores = g.op('Mul', [g.op('MatMul', [q!, kT]), g.scalar(1 / Math.sqrt(hd), this.dtype)]);
      const probs = softmax(g, scores);
      if (options.attention && b === this.spec.depth - 1) {
        const clsRow = g.op('Slice', [probs, g.ints([0, 1]), g.ints([1, tokens]), g.ints([2, 3])]);
        attention = g.op('Reshape', [
          g.op('ReduceMean', [clsRow], { axes: [1], keepdims: 0 }),
          g.ints([0, tokens - 1]),
        ]);
      }
      const o = g.op('Reshape', [
        g.op('Transpose', [g.op('MatMul', [probs, v!])], { perm: [0, 2, 1, 3] }),
        g.ints([0, tokens, dim]),
      ]);
      const proj = loraLinear(
        g,
        o,
        this.w(g, `${p}.attn.proj.weight`, true),
        this.w(g, `${p}.attn.proj.bias`),
        targets.get(`${p}.attn.proj`)!,
        lora,
      );
      x = g.op('Add', [x, g.op('Mul', [proj, this.w(g, `${p}.ls1.gamma`)])]);
      const h2 = ln(x, `${p}.norm2`);
      const m = gelu(
        g,
        g.op('Add', [g.op('MatMul', [h2, this.w(g, `${p}.mlp.fc1.weight`, true)]), this.w(g, `${p}.mlp.fc1.bias`)]),
      );
      const m2 = g.op('Add', [
        g.op('MatMul', [m, this.w(g, `${p}.mlp.fc2.weight`, true)]),
        this.w(g, `${p}.mlp.fc2.bias`),
      ]);
      x = g.op('Add', [x, g.op('Mul', [m2, this.w(g, `${p}.ls2.gamma`)])]);
    }
    const out = ln(x, 'norm');
    const clsToken = g.op('Gather', [out, g.constant(tensor('int64', [], [0]), 'cls_index')], { axis: 1 });
    const patchTokens = g.op('Slice', [out, g.ints([1]), g.ints([tokens]), g.ints([1])]);
    return { cls: clsToken, patchTokens, grid: [grid, grid], ...(attention ? { attention } : {}) };
  }
}
