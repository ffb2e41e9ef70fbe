import { InputError } from '@anymc3d/core';
import { configFields } from '../weights/hf-config.js';

/** The parts of a Hugging Face `Dinov2Config` / `Dinov2WithRegistersConfig` the forward needs. */
export interface Dinov2Config {
  modelType: 'dinov2' | 'dinov2_with_registers';
  hiddenSize: number;
  layers: number;
  heads: number;
  patchSize: number;
  imageSize: number;
  layerNormEps: number;
  mlpRatio: number;
  swiglu: boolean;
  qkvBias: boolean;
  registers: number;
}

export const DINOV2_MODEL_TYPES = ['dinov2', 'dinov2_with_registers'] as const;

/** MLP hidden width as HF computes it (SwiGLU: 2/3 of it, rounded up to a multiple of 8). */
export function ffnHidden(c: Dinov2Config): number {
  const hidden = Math.trunc(c.hiddenSize * c.mlpRatio);
  return c.swiglu ? Math.trunc((Math.trunc((hidden * 2) / 3) + 7) / 8) * 8 : hidden;
}

export function parseDinov2Config(raw: Record<string, unknown>, source: string): Dinov2Config {
  const modelType = raw.model_type;
  if (modelType !== 'dinov2' && modelType !== 'dinov2_with_registers') {
    throw new InputError(
      source,
      `model_type "${String(modelType)}" is not a DINOv2 model (expected ${DINOV2_MODEL_TYPES.join(' or ')})`,
    );
  }
  const { int, number: num } = configFields(raw, source);
  const swiglu = raw.use_swiglu_ffn === true;
  const act = raw.hidden_act ?? 'gelu';
  if (!swiglu && act !== 'gelu')
    throw new InputError(source, `hidden_act "${String(act)}" is not supported (exact "gelu" only)`);
  const config: Dinov2Config = {
    modelType,
    hiddenSize: int('hidden_size', 768),
    layers: int('num_hidden_layers', 12),
    heads: int('num_attention_heads', 12),
    patchSize: int('patch_size', 14),
    imageSize: int('image_size', 224),
    layerNormEps: num('layer_norm_eps', 1e-6),
    mlpRatio: num('mlp_ratio', 4),
    swiglu,
    qkvBias: raw.qkv_bias !== false,
    registers: modelType === 'dinov2_with_registers' ? int('num_register_tokens', 4) : 0,
  };
  if (int('num_channels', 3) !== 3) throw new InputError(source, 'num_channels must be 3');
  if (config.hiddenSize % config.heads !== 0) {
    throw new InputError(
      source,
      `hidden_size ${config.hiddenSize} is not a multiple of num_attention_heads ${config.heads}`,
    );
  }
  return config;
}
