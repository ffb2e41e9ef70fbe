import { InputError } from '@anymc3d/core';
import { configFields } from '../weights/hf-config.js';

/** The parts of a Hugging Face `DINOv3ViTConfig` the forward needs. */
export interface Dinov3Config {
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  patchSize: number;
  imageSize: number;
  layerNormEps: number;
  /** RoPE base period (`rope_theta`). */
  ropeTheta: number;
  registers: number;
  queryBias: boolean;
  keyBias: boolean;
  valueBias: boolean;
  projBias: boolean;
  mlpBias: boolean;
  /** Gated MLP (`down(act(gate(x)) · up(x))`, the "plus" and 7B models) instead of `down(act(up(x)))`. */
  gated: boolean;
  activation: 'gelu' | 'silu';
}

export const DINOV3_MODEL_TYPE = 'dinov3_vit';

/** HF's ACT2FN names this forward implements exactly ("gelu" is the erf form). */
const ACTIVATIONS: Record<string, Dinov3Config['activation']> = { gelu: 'gelu', silu: 'silu', swish: 'silu' };

export function parseDinov3Config(raw: Record<string, unknown>, source: string): Dinov3Config {
  if (raw.model_type !== DINOV3_MODEL_TYPE) {
    throw new InputError(
      source,
      `model_type "${String(raw.model_type)}" is not a DINOv3 ViT model (expected ${DINOV3_MODEL_TYPE})`,
    );
  }
  const { int, positive: num, flag } = configFields(raw, source);
  const act = String(raw.hidden_act ?? 'gelu');
  const activation = ACTIVATIONS[act];
  if (!activation) {
    throw new InputError(
      source,
      `hidden_act "${act}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`,
    );
  }
  // Early transformers releases named the gated MLP `use_swiglu_ffn`.
  const gated = flag('use_gated_mlp', raw.use_swiglu_ffn === true);
  const config: Dinov3Config = {
    hiddenSize: int('hidden_size', 384),
    intermediateSize: int('intermediate_size', 1536),
    layers: int('num_hidden_layers', 12),
    heads: int('num_attention_heads', 6),
    patchSize: int('patch_size', 16),
    imageSize: int('image_size', 224),
    layerNormEps: num('layer_norm_eps', 1e-5),
    ropeTheta: num('rope_theta', 100),
    registers: int('num_register_tokens', 0),
    queryBias: flag('query_bias', true),
    keyBias: flag('key_bias', false),
    valueBias: flag('value_bias', true),
    projBias: flag('proj_bias', true),
    mlpBias: flag('mlp_bias', true),
    gated,
    activation,
  };
  if (int('num_channels', 3) !== 3) throw new InputError(source, 'num_channels must be 3');
  if (config.heads === 0 || config.hiddenSize % config.heads !== 0) {
    throw new InputError(
      source,
      `hidden_size ${config.hiddenSize} is not a multiple of num_attention_heads ${config.heads}`,
    );
  }
  if ((config.hiddenSize / config.heads) % 4 !== 0) {
    // RoPE splits each head into (y, x) × (cos, sin) quarters.
    throw new InputError(
      source,
      `head size ${config.hiddenSize / config.heads} is not a multiple of 4 (RoPE needs it)`,
    );
  }
  if (config.patchSize === 0) throw new InputError(source, '"patch_size" must be positive');
  return config;
}
