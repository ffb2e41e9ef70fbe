import type { SafetensorsFile } from '@anymc3d/core/io';
import { type Dinov2Config, ffnHidden } from './config.js';
import type { BlockWeights, EncoderWeights, Ffn } from './encoder.js';
import { checkpointPrefix, concat0, rows, shapeCheckedReader, transpose2d } from './tensors.js';

export { transpose2d };

/**
 * DINOv2 weights in the layout the graph wants: linear weights transposed to [in, out] once at
 * load time, and HF's separate query/key/value fused into one qkv projection [d, 3d] so one LoRA
 * pair (A d→r, B r→3d) attaches to it as in the paper.
 */

export interface Dinov2Weights extends EncoderWeights {
  cls: Float32Array;
  /** [R, d] register tokens, R = 0 without registers. */
  registers: Float32Array;
  /** [1 + g², d]: the CLS position and a g×g grid. */
  positions: Float32Array;
  positionGrid: number;
}

export function loadDinov2Weights(file: SafetensorsFile, c: Dinov2Config): Dinov2Weights {
  const prefix = checkpointPrefix(file, ['dinov2.', 'model.'], 'DINOv2');
  const d = c.hiddenSize;
  const get = shapeCheckedReader(file, prefix);
  const posEntry = file.entries.get(`${prefix}embeddings.position_embeddings`);
  const numPositions = (posEntry?.shape[1] ?? 0) - 1;
  const positionGrid = Math.round(Math.sqrt(Math.max(numPositions, 0)));
  if (!posEntry || positionGrid * positionGrid !== numPositions) {
    const g = Math.floor(c.imageSize / c.patchSize);
    get('embeddings.position_embeddings', [1, g * g + 1, d]);
  }
  const positions = get('embeddings.position_embeddings', [1, positionGrid * positionGrid + 1, d]).data as Float32Array;
  const hidden = ffnHidden(c);
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < c.layers; i++) {
    const b = (k: string) => `encoder.layer.${i}.${k}`;
    const q = get(b('attention.attention.query.weight'), [d, d]);
    const k = get(b('attention.attention.key.weight'), [d, d]);
    const v = get(b('attention.attention.value.weight'), [d, d]);
    const qkvB = c.qkvBias
      ? concat0([
          get(b('attention.attention.query.bias'), [d]),
          get(b('attention.attention.key.bias'), [d]),
          get(b('attention.attention.value.bias'), [d]),
        ])
      : undefined;
    let ffn: Ffn;
    if (c.swiglu) {
      const wIn = get(b('mlp.weights_in.weight'), [2 * hidden, d]);
      const bIn = get(b('mlp.weights_in.bias'), [2 * hidden]);
      ffn = {
        kind: 'gated',
        act: 'silu',
        gateT: transpose2d(rows(wIn, 0, hidden)),
        gateB: rows(bIn, 0, hidden),
        upT: transpose2d(rows(wIn, hidden, 2 * hidden)),
        upB: rows(bIn, hidden, 2 * hidden),
        outT: transpose2d(get(b('mlp.weights_out.weight'), [d, hidden])),
        outB: get(b('mlp.weights_out.bias'), [d]),
      };
    } else {
      ffn = {
        kind: 'mlp',
        act: 'gelu',
        fc1T: transpose2d(get(b('mlp.fc1.weight'), [hidden, d])),
        fc1B: get(b('mlp.fc1.bias'), [hidden]),
        fc2T: transpose2d(get(b('mlp.fc2.weight'), [d, hidden])),
        fc2B: get(b('mlp.fc2.bias'), [d]),
      };
    }
    blocks.push({
      norm1W: get(b('norm1.weight'), [d]),
      norm1B: get(b('norm1.bias'), [d]),
      qkvT: transpose2d(concat0([q, k, v])),
      ...(qkvB ? { qkvB } : {}),
      projT: transpose2d(get(b('attention.output.dense.weight'), [d, d])),
      projB: get(b('attention.output.dense.bias'), [d]),
      scale1: get(b('layer_scale1.lambda1'), [d]),
      norm2W: get(b('norm2.weight'), [d]),
      norm2B: get(b('norm2.bias'), [d]),
      ffn,
      scale2: get(b('layer_scale2.lambda1'), [d]),
    });
  }
  return {
    patchW: get('embeddings.patch_embeddings.projection.weight', [d, 3, c.patchSize, c.patchSize]),
    patchB: get('embeddings.patch_embeddings.projection.bias', [d]),
    cls: get('embeddings.cls_token', [1, 1, d]).data as Float32Array,
    registers:
      c.registers > 0
        ? (get('embeddings.register_tokens', [1, c.registers, d]).data as Float32Array)
        : new Float32Array(0),
    positions,
    positionGrid,
    blocks,
    normW: get('layernorm.weight', [d]),
    normB: get('layernorm.bias', [d]),
  };
}
