import { InputError } from '@anymc3d/core';
import type { Tensor } from '@anymc3d/core/graph';
import type { SafetensorsFile } from '@anymc3d/core/io';
import type { BlockWeights, Ffn, TrunkWeights } from './encoder.js';
import { concat0, rows, shapeCheckedReader, transpose2d } from './tensors.js';
import type { TowerConfig } from './tower-config.js';

/**
 * CLIP, SigLIP and open_clip timm image-tower weights in the layout the graph wants: linear
 * weights transposed to [in, out] once at load time, q/k/v fused into one [d, 3d] MatMul (LoRA
 * still attaches to each part where the checkpoint keeps them apart).
 */

/** SigLIP's attention-pooling head: a learned probe attends over the patch tokens, then LayerNorm + MLP. */
export interface PoolingHeadWeights {
  probe: Tensor;
  qT: Tensor;
  qB: Tensor;
  kvT: Tensor;
  kvB: Tensor;
  outT: Tensor;
  outB: Tensor;
  normW: Tensor;
  normB: Tensor;
  ffn: Ffn;
}

export interface TowerWeights extends TrunkWeights {
  /** Learned positions, token-major: [1 + g², d] with the CLS position first (CLIP, timm), [g², d] (SigLIP). */
  positions: Float32Array;
  positionGrid: number;
  /** CLIP's class embedding / timm's cls_token; SigLIP has no CLS token. */
  cls?: Float32Array;
  /** CLIP's and SigLIP's post_layernorm, timm's final norm. */
  finalNorm: { weight: Tensor; bias: Tensor };
  head?: PoolingHeadWeights;
}

/** The key prefix of the image tower: bare keys, or nested as the two-tower checkpoints store them. */
function towerPrefix(file: SafetensorsFile, probe: string, prefixes: readonly string[], model: string): string {
  for (const prefix of ['', ...prefixes]) if (file.has(`${prefix}${probe}`)) return prefix;
  throw new InputError(
    file.source,
    `tensor "${prefixes[0] ?? ''}${probe}" is missing: not a ${model} image-tower checkpoint`,
  );
}

/** The side of a square position grid, or an error naming the tensor. */
function squareGrid(file: SafetensorsFile, key: string, count: number, d: number, extra: number): number {
  const g = Math.round(Math.sqrt(count - extra));
  if (g < 1 || g * g !== count - extra) {
    throw new InputError(
      file.source,
      `tensor "${key}" holds ${count} positions; expected ${extra ? '1 + ' : ''}a square grid g² of ${d}-vectors`,
    );
  }
  return g;
}

function mlp(get: (k: string, s: number[]) => Tensor, base: string, c: TowerConfig): Ffn {
  const d = c.hiddenSize;
  const hidden = c.intermediateSize;
  return {
    kind: 'mlp',
    act: c.act,
    fc1T: transpose2d(get(`${base}fc1.weight`, [hidden, d])),
    fc1B: get(`${base}fc1.bias`, [hidden]),
    fc2T: transpose2d(get(`${base}fc2.weight`, [d, hidden])),
    fc2B: get(`${base}fc2.bias`, [d]),
  };
}

/** Hugging Face CLIP / SigLIP vision weights (`vision_model.*`). */
export function loadHfTowerWeights(file: SafetensorsFile, c: TowerConfig): TowerWeights {
  const model = c.family === 'clip' ? 'CLIP' : 'SigLIP';
  const prefix = towerPrefix(file, 'embeddings.patch_embedding.weight', ['vision_model.'], model);
  const get = shapeCheckedReader(file, prefix);
  const d = c.hiddenSize;
  const p = c.patchSize;
  const clip = c.family === 'clip';
  const posKey = 'embeddings.position_embedding.weight';
  const count = file.entries.get(prefix + posKey)?.shape[0] ?? 0;
  const extra = clip ? 1 : 0;
  const positionGrid = squareGrid(file, prefix + posKey, count, d, extra);
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < c.layers; i++) {
    const b = (k: string) => `encoder.layers.${i}.${k}`;
    const part = (name: string) => get(b(`self_attn.${name}_proj.weight`), [d, d]);
    const bias = (name: string) => get(b(`self_attn.${name}_proj.bias`), [d]);
    blocks.push({
      norm1W: get(b('layer_norm1.weight'), [d]),
      norm1B: get(b('layer_norm1.bias'), [d]),
      qkvT: transpose2d(concat0([part('q'), part('k'), part('v')])),
      qkvB: concat0([bias('q'), bias('k'), bias('v')]),
      projT: transpose2d(part('out')),
      projB: bias('out'),
      norm2W: get(b('layer_norm2.weight'), [d]),
      norm2B: get(b('layer_norm2.bias'), [d]),
      ffn: mlp(get, b('mlp.'), c),
    });
  }
  const weights: TowerWeights = {
    patchW: get('embeddings.patch_embedding.weight', [d, 3, p, p]),
    ...(clip ? {} : { patchB: get('embeddings.patch_embedding.bias', [d]) }),
    ...(clip ? { preNorm: { weight: get('pre_layrnorm.weight', [d]), bias: get('pre_layrnorm.bias', [d]) } } : {}),
    blocks,
    positions: get(posKey, [positionGrid * positionGrid + extra, d]).data as Float32Array,
    positionGrid,
    ...(clip ? { cls: get('embeddings.class_embedding', [d]).data as Float32Array } : {}),
    finalNorm: { weight: get('post_layernorm.weight', [d]), bias: get('post_layernorm.bias', [d]) },
  };
  if (!clip) {
    const inProj = get('head.attention.in_proj_weight', [3 * d, d]);
    const inBias = get('head.attention.in_proj_bias', [3 * d]);
    weights.head = {
      probe: get('head.probe', [1, 1, d]),
      qT: transpose2d(rows(inProj, 0, d)),
      qB: rows(inBias, 0, d),
      kvT: transpose2d(rows(inProj, d, 3 * d)),
      kvB: rows(inBias, d, 3 * d),
      outT: transpose2d(get('head.attention.out_proj.weight', [d, d])),
      outB: get('head.attention.out_proj.bias', [d]),
      normW: get('head.layernorm.weight', [d]),
      normB: get('head.layernorm.bias', [d]),
      ffn: mlp(get, 'head.mlp.', c),
    };
  }
  return weights;
}

/** open_clip's timm image tower (`visual.trunk.*`): timm ViT keys, qkv already fused. */
export function loadTimmTowerWeights(file: SafetensorsFile, c: TowerConfig): TowerWeights {
  const prefix = towerPrefix(file, 'patch_embed.proj.weight', ['visual.trunk.'], 'open_clip timm ViT');
  const get = shapeCheckedReader(file, prefix);
  const d = c.hiddenSize;
  const p = c.patchSize;
  const count = file.entries.get(`${prefix}pos_embed`)?.shape[1] ?? 0;
  const positionGrid = squareGrid(file, `${prefix}pos_embed`, count, d, 1);
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < c.layers; i++) {
    const b = (k: string) => `blocks.${i}.${k}`;
    blocks.push({
      norm1W: get(b('norm1.weight'), [d]),
      norm1B: get(b('norm1.bias'), [d]),
      qkvT: transpose2d(get(b('attn.qkv.weight'), [3 * d, d])),
      qkvB: get(b('attn.qkv.bias'), [3 * d]),
      projT: transpose2d(get(b('attn.proj.weight'), [d, d])),
      projB: get(b('attn.proj.bias'), [d]),
      norm2W: get(b('norm2.weight'), [d]),
      norm2B: get(b('norm2.bias'), [d]),
      ffn: mlp(get, b('mlp.'), c),
    });
  }
  return {
    patchW: get('patch_embed.proj.weight', [d, 3, p, p]),
    patchB: get('patch_embed.proj.bias', [d]),
    blocks,
    positions: get('pos_embed', [1, positionGrid * positionGrid + 1, d]).data as Float32Array,
    positionGrid,
    cls: get('cls_token', [1, 1, d]).data as Float32Array,
    finalNorm: { weight: get('norm.weight', [d]), bias: get('norm.bias', [d]) },
  };
}
