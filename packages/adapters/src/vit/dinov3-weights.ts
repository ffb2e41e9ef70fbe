import type { Tensor } from '@anymc3d/core/graph';
import type { SafetensorsFile } from '@anymc3d/core/io';
import type { Dinov3Config } from './dinov3-config.js';
import type { BlockWeights, EncoderWeights, Ffn } from './encoder.js';
import { checkpointPrefix, concat0, shapeCheckedReader, transpose2d } from './tensors.js';

/**
 * DINOv3 weights (HF `DINOv3ViTModel` keys) in the layout the graph wants: linear weights
 * transposed to [in, out], q_proj/k_proj/v_proj fused into one qkv [d, 3d] so one LoRA pair
 * (A d→r, B r→3d) attaches to it as for DINOv2. HF's DINOv3 has no key bias; where a query or
 * value bias exists the fused bias holds zeros in the key's slot, which adds exactly nothing.
 */
export interface Dinov3Weights extends EncoderWeights {
  cls: Float32Array;
  /** [R, d] */
  registers: Float32Array;
}

export function loadDinov3Weights(file: SafetensorsFile, c: Dinov3Config): Dinov3Weights {
  const prefix = checkpointPrefix(file, ['model.', 'dinov3_vit.'], 'DINOv3');
  const get = shapeCheckedReader(file, prefix);
  const d = c.hiddenSize;
  const m = c.intermediateSize;
  const zeros = (n: number): Tensor => ({ dtype: 'float32', dims: [n], data: new Float32Array(n) });
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < c.layers; i++) {
    const b = (k: string) => `layer.${i}.${k}`;
    const proj = (name: string) => get(b(`attention.${name}.weight`), [d, d]);
    const bias = (name: string, present: boolean) => (present ? get(b(`attention.${name}.bias`), [d]) : zeros(d));
    const qkvB =
      c.queryBias || c.keyBias || c.valueBias
        ? concat0([bias('q_proj', c.queryBias), bias('k_proj', c.keyBias), bias('v_proj', c.valueBias)])
        : undefined;
    const linear = (name: string, out: number, inp: number) => ({
      wT: transpose2d(get(b(`mlp.${name}.weight`), [out, inp])),
      ...(c.mlpBias ? { b: get(b(`mlp.${name}.bias`), [out]) } : {}),
    });
    const up = linear('up_proj', m, d);
    const down = linear('down_proj', d, m);
    let ffn: Ffn;
    if (c.gated) {
      const gate = linear('gate_proj', m, d);
      ffn = {
        kind: 'gated',
        act: c.activation,
        gateT: gate.wT,
        upT: up.wT,
        outT: down.wT,
        ...(gate.b ? { gateB: gate.b } : {}),
        ...(up.b ? { upB: up.b } : {}),
        ...(down.b ? { outB: down.b } : {}),
      };
    } else {
      ffn = {
        kind: 'mlp',
        act: c.activation,
        fc1T: up.wT,
        fc2T: down.wT,
        ...(up.b ? { fc1B: up.b } : {}),
        ...(down.b ? { fc2B: down.b } : {}),
      };
    }
    blocks.push({
      norm1W: get(b('norm1.weight'), [d]),
      norm1B: get(b('norm1.bias'), [d]),
      qkvT: transpose2d(concat0([proj('q_proj'), proj('k_proj'), proj('v_proj')])),
      ...(qkvB ? { qkvB } : {}),
      projT: transpose2d(proj('o_proj')),
      ...(c.projBias ? { projB: get(b('attention.o_proj.bias'), [d]) } : {}),
      scale1: get(b('layer_scale1.lambda1'), [d]),
      norm2W: get(b('norm2.weight'), [d]),
      norm2B: get(b('norm2.bias'), [d]),
      ffn,
      scale2: get(b('layer_scale2.lambda1'), [d]),
    });
  }
  return {
    patchW: get('embeddings.patch_embeddings.weight', [d, 3, c.patchSize, c.patchSize]),
    patchB: get('embeddings.patch_embeddings.bias', [d]),
    cls: get('embeddings.cls_token', [1, 1, d]).data as Float32Array,
    registers:
      c.registers > 0
        ? (get('embeddings.register_tokens', [1, c.registers, d]).data as Float32Array)
        : new Float32Array(0),
    blocks,
    normW: get('norm.weight', [d]),
    normB: get('norm.bias', [d]),
  };
}
