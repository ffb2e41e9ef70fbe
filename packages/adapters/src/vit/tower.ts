import type { Backbone, BackboneCard, BackboneValues, BuildOptions, LoraTarget } from '@anymc3d/core/backbone';
import { type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';
import {
  clsAttention,
  feedForward,
  layerNorm,
  patchGrid,
  type TrunkSpec,
  vitEncoder,
  vitLoraTargets,
  vitTrunk,
} from './encoder.js';
import { resizePositionGrid } from './interpolate.js';
import type { TowerConfig } from './tower-config.js';
import type { PoolingHeadWeights, TowerWeights } from './tower-weights.js';

/**
 * LoRA points of an image tower: the patch embedding, the attention output, and q, k, v as the
 * checkpoint keeps them — three pairs per block for HF CLIP and SigLIP (separate q_proj, k_proj,
 * v_proj), one pair on timm's fused qkv (open_clip towers).
 */
export function towerLoraTargets(c: TowerConfig): LoraTarget[] {
  return vitLoraTargets(c, c.family === 'open_clip_timm' ? 'fused' : 'separate');
}

/**
 * The image tower of CLIP (Hugging Face `CLIPVisionModel`), SigLIP (`SiglipVisionModel`) or an
 * open_clip timm ViT (BiomedCLIP) in the graph IR. The slice embedding is what each model pools
 * an image into: CLIP's post-LayerNorm CLS token (`pooler_output`), SigLIP's attention-pooling
 * head output (`pooler_output`; there is no CLS token), timm's normed CLS token. Heatmaps use the
 * attention of that pooling: the CLS query row of the last block, or the SigLIP probe's
 * attention over the patches. Patch tokens are HF's `last_hidden_state` (CLIP: before its
 * post-LayerNorm, which only the pooled token gets). Learned positions are bicubic-interpolated
 * for other grids as each library does (HF: plain; timm's resample_abs_pos_embed: antialiased).
 *
 * A CLIP checkpoint's visual projection (and open_clip's head.proj) is not applied: it is a
 * linear map of the pooled vector, which the plugin's query and linear head already subsume.
 */
export class ImageTowerBackbone implements Backbone {
  private readonly tokenOffsets = new Map<string, Tensor>();

  constructor(
    readonly card: BackboneCard,
    readonly config: TowerConfig,
    private readonly weights: TowerWeights,
    readonly weightHash: string,
  ) {}

  loraTargets(): LoraTarget[] {
    return towerLoraTargets(this.config);
  }

  grid(inputSize: readonly [number, number]): [number, number] {
    return patchGrid(this.card.name, inputSize, this.config.patchSize);
  }

  private get prefix(): number {
    return this.weights.cls ? 1 : 0;
  }

  /** [1, prefix + P, d]: CLS + its position (CLIP, timm), then the patch positions for the grid. */
  private offsets(grid: [number, number]): Tensor {
    const key = grid.join('x');
    const cached = this.tokenOffsets.get(key);
    if (cached) return cached;
    const d = this.config.hiddenSize;
    const { positions, positionGrid, cls } = this.weights;
    const prefix = this.prefix;
    const patchPos = resizePositionGrid(
      positions.subarray(prefix * d),
      d,
      positionGrid,
      grid,
      this.config.family === 'open_clip_timm',
    );
    const P = grid[0] * grid[1];
    const out = new Float32Array((prefix + P) * d);
    if (cls) for (let c = 0; c < d; c++) out[c] = cls[c]! + positions[c]!;
    out.set(patchPos, prefix * d);
    const t = tensor('float32', [1, prefix + P, d], out);
    this.tokenOffsets.set(key, t);
    return t;
  }

  build(g: GraphBuilder, pixels: Value, options: BuildOptions): BackboneValues {
    const grid = this.grid(options.inputSize);
    const c = this.config;
    const w = this.weights;
    const spec: TrunkSpec = {
      hiddenSize: c.hiddenSize,
      heads: c.heads,
      patchSize: c.patchSize,
      layerNormEps: c.layerNormEps,
      grid,
      prefix: this.prefix,
      tokenOffsets: this.offsets(grid),
      targets: this.loraTargets(),
      ...(options.lora ? { lora: options.lora } : {}),
      ...(options.fusedAttention ? { fusedAttention: true } : {}),
    };
    // CLIP's embedding is its CLS token, so the last block can run for it alone; SigLIP's pooling
    // head attends over every token.
    const clsOnly = options.patchTokens === false && c.family !== 'siglip';
    return g.scope('backbone', () => {
      if (c.family === 'open_clip_timm') {
        const { weight, bias } = w.finalNorm;
        return vitEncoder(
          g,
          pixels,
          { ...w, normW: weight, normB: bias },
          { ...spec, attention: !!options.attention, clsOnly },
        );
      }
      const { hidden, probs, tokens } = vitTrunk(g, pixels, w, { ...spec, clsOnly });
      const norm = (x: Value) =>
        layerNorm(
          g,
          x,
          g.param('post_norm.weight', w.finalNorm.weight),
          g.param('post_norm.bias', w.finalNorm.bias),
          c.layerNormEps,
        );
      if (c.family === 'clip') {
        const first = g.op('Gather', [hidden, g.constant(tensor('int64', [], [0]))], { axis: 1 });
        const values: BackboneValues = { cls: norm(first), grid };
        if (!clsOnly) values.patchTokens = g.op('Slice', [hidden, g.ints([1]), g.ints([tokens]), g.ints([1])]);
        if (options.attention) values.attention = clsAttention(g, probs, 1, tokens);
        return values;
      }
      if (!w.head) throw new Error(`${this.card.name}: SigLIP weights without the attention-pooling head`);
      const normed = norm(hidden);
      const pooled = g.scope('head', () => poolingHead(g, normed, w.head!, c));
      return {
        cls: pooled.embedding,
        patchTokens: normed,
        grid,
        ...(options.attention ? { attention: pooled.attention } : {}),
      };
    });
  }
}

/**
 * SigLIP's MultiheadAttentionPoolingHead: the probe attends over the tokens (torch
 * MultiheadAttention, batch first), then x + MLP(LayerNorm(x)). Also returns the probe's
 * attention over the patches, averaged over heads ([N, P]).
 */
function poolingHead(
  g: GraphBuilder,
  tokens: Value,
  w: PoolingHeadWeights,
  c: TowerConfig,
): { embedding: Value; attention: Value } {
  const d = c.hiddenSize;
  const H = c.heads;
  const hd = d / H;
  const q = g.op('Add', [
    g.op('MatMul', [g.param('probe', w.probe), g.param('q.weightT', w.qT)]),
    g.param('q.bias', w.qB),
  ]);
  const qHeads = g.op('Transpose', [g.op('Reshape', [q, g.ints([1, 1, H, hd])])], { perm: [0, 2, 1, 3] });
  const kv = g.op('Add', [g.op('MatMul', [tokens, g.param('kv.weightT', w.kvT)]), g.param('kv.bias', w.kvB)]);
  // [N,P,2d] → [2,N,H,P,hd]
  const kvHeads = g.op('Transpose', [g.op('Reshape', [kv, g.ints([0, -1, 2, H, hd])])], { perm: [2, 0, 3, 1, 4] });
  const pick = (i: number) => g.op('Gather', [kvHeads, g.constant(tensor('int64', [], [i]))], { axis: 0 });
  const scores = g.op('Mul', [
    g.op('MatMul', [qHeads, g.op('Transpose', [pick(0)], { perm: [0, 1, 3, 2] })]),
    g.scalar(hd ** -0.5),
  ]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const context = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [probs, pick(1)])], { perm: [0, 2, 1, 3] }),
    g.ints([0, 1, d]),
  ]);
  const attended = g.op('Add', [
    g.op('MatMul', [context, g.param('out.weightT', w.outT)]),
    g.param('out.bias', w.outB),
  ]);
  const normed = layerNorm(g, attended, g.param('norm.weight', w.normW), g.param('norm.bias', w.normB), c.layerNormEps);
  const out = g.op('Add', [attended, feedForward(g, normed, w.ffn)]);
  return {
    embedding: g.op('Gather', [out, g.constant(tensor('int64', [], [0]))], { axis: 1 }),
    attention: g.op('ReduceMean', [probs], { axes: [1, 2], keepdims: 0 }),
  };
}
