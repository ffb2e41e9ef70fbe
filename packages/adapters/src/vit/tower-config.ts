import { InputError } from '@anymc3d/core';
import { configFields } from '../weights/hf-config.js';
import type { Activation } from './encoder.js';

/**
 * The image towers of contrastive image–text models: Hugging Face CLIP and SigLIP folders
 * (`CLIPModel`/`CLIPVisionModel`, `SiglipModel`/`SiglipVisionModel`; fixed-resolution SigLIP 2
 * checkpoints are `siglip` folders) and open_clip checkpoints whose image tower is a timm ViT
 * (BiomedCLIP). One shape description for all of them.
 */
export type TowerFamily = 'clip' | 'siglip' | 'open_clip_timm';

export interface TowerConfig {
  family: TowerFamily;
  /** config.json's model_type (open_clip: the timm model name). */
  modelType: string;
  hiddenSize: number;
  layers: number;
  heads: number;
  patchSize: number;
  imageSize: number;
  intermediateSize: number;
  layerNormEps: number;
  act: Activation;
  /** No family here has register tokens; kept for the card check every ViT shares. */
  registers: 0;
}

export const CLIP_MODEL_TYPES = ['clip', 'clip_vision_model'] as const;
export const SIGLIP_MODEL_TYPES = ['siglip', 'siglip_vision_model'] as const;

const ACTIVATIONS: Record<string, Activation> = {
  quick_gelu: 'quick_gelu',
  gelu: 'gelu',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_new: 'gelu_tanh',
};

type Raw = Record<string, unknown>;

/** Every shape field of a tower is a positive whole number. */
function reader(raw: Raw, source: string, where: string) {
  const f = configFields(raw, source, where);
  return { int: (key: string, fallback: number) => f.int(key, fallback, 1), num: f.positive, at: f.at };
}

/**
 * The vision part of a CLIP or SigLIP config.json: the whole file for a `*_vision_model`, its
 * `vision_config` for a two-tower `clip`/`siglip` folder. Defaults are the HF config classes'.
 */
export function parseTowerConfig(raw: Raw, source: string): TowerConfig {
  const modelType = String(raw.model_type);
  const isClip = (CLIP_MODEL_TYPES as readonly string[]).includes(modelType);
  const isSiglip = (SIGLIP_MODEL_TYPES as readonly string[]).includes(modelType);
  if (!isClip && !isSiglip) {
    throw new InputError(
      source,
      `model_type "${modelType}" is not a CLIP or SigLIP model (expected ${[...CLIP_MODEL_TYPES, ...SIGLIP_MODEL_TYPES].join(', ')})`,
    );
  }
  const twoTower = modelType === 'clip' || modelType === 'siglip';
  const vision = twoTower ? raw.vision_config : raw;
  if (typeof vision !== 'object' || vision === null || Array.isArray(vision)) {
    throw new InputError(
      source,
      `"vision_config" is missing: a ${modelType} config.json describes its image tower there`,
    );
  }
  const v = vision as Raw;
  const { int, num, at } = reader(v, source, twoTower ? 'vision_config' : '');
  const actName = String(v.hidden_act ?? (isClip ? 'quick_gelu' : 'gelu_pytorch_tanh'));
  const act = ACTIVATIONS[actName];
  if (!act) {
    throw new InputError(
      source,
      `"${at('hidden_act')}" is "${actName}"; supported: ${Object.keys(ACTIVATIONS).join(', ')}`,
    );
  }
  if (isSiglip && v.vision_use_head === false) {
    throw new InputError(
      source,
      `"${at('vision_use_head')}" is false: this SigLIP has no attention-pooling head, which is its slice embedding`,
    );
  }
  const config: TowerConfig = {
    family: isClip ? 'clip' : 'siglip',
    modelType,
    hiddenSize: int('hidden_size', 768),
    layers: int('num_hidden_layers', 12),
    heads: int('num_attention_heads', 12),
    patchSize: int('patch_size', isClip ? 32 : 16),
    imageSize: int('image_size', 224),
    intermediateSize: int('intermediate_size', 3072),
    layerNormEps: num('layer_norm_eps', isClip ? 1e-5 : 1e-6),
    act,
    registers: 0,
  };
  if (int('num_channels', 3) !== 3) throw new InputError(source, `"${at('num_channels')}" must be 3`);
  checkHeads(config, source);
  return config;
}

function checkHeads(c: TowerConfig, source: string): void {
  if (c.hiddenSize % c.heads !== 0) {
    throw new InputError(source, `hidden_size ${c.hiddenSize} is not a multiple of num_attention_heads ${c.heads}`);
  }
}

/** timm ViT names open_clip configs use for their image tower, with the shapes timm gives them. */
const TIMM_VITS: Record<string, { hiddenSize: number; layers: number; heads: number; patchSize: number }> = {
  vit_base_patch16_224: { hiddenSize: 768, layers: 12, heads: 12, patchSize: 16 },
  vit_base_patch32_224: { hiddenSize: 768, layers: 12, heads: 12, patchSize: 32 },
  vit_large_patch16_224: { hiddenSize: 1024, layers: 24, heads: 16, patchSize: 16 },
};

/**
 * `open_clip_config.json` of an open_clip checkpoint whose image tower is a timm ViT (BiomedCLIP:
 * `vision_cfg.timm_model_name` = vit_base_patch16_224). `vision_cfg.timm_shape` is not an
 * open_clip key: small test towers state their shape with it.
 */
export function parseOpenClipConfig(raw: Raw, source: string): TowerConfig {
  const modelCfg = raw.model_cfg;
  const vision =
    typeof modelCfg === 'object' && modelCfg !== null ? (modelCfg as Raw).vision_cfg : (raw.vision_cfg ?? undefined);
  if (typeof vision !== 'object' || vision === null) {
    throw new InputError(source, '"model_cfg.vision_cfg" is missing: not an open_clip config');
  }
  const v = vision as Raw;
  const name = v.timm_model_name;
  if (typeof name !== 'string') {
    throw new InputError(
      source,
      'only open_clip image towers that are timm ViTs are supported ("model_cfg.vision_cfg.timm_model_name" is missing)',
    );
  }
  const custom = v.timm_shape as Raw | undefined;
  const shape = custom
    ? (() => {
        const { int } = reader(custom, source, 'model_cfg.vision_cfg.timm_shape');
        return {
          hiddenSize: int('hidden_size', 0),
          layers: int('num_hidden_layers', 0),
          heads: int('num_attention_heads', 0),
          patchSize: int('patch_size', 0),
        };
      })()
    : TIMM_VITS[name];
  if (!shape) {
    throw new InputError(
      source,
      `timm model "${name}" is not supported (supported: ${Object.keys(TIMM_VITS).join(', ')})`,
    );
  }
  if (v.timm_pool !== undefined && v.timm_pool !== '' && v.timm_pool !== 'token') {
    throw new InputError(
      source,
      `timm_pool "${String(v.timm_pool)}" is not supported (the CLS token is the embedding)`,
    );
  }
  const imageSize = v.image_size ?? 224;
  if (typeof imageSize !== 'number' || !Number.isInteger(imageSize) || imageSize <= 0) {
    throw new InputError(source, `"model_cfg.vision_cfg.image_size" must be a positive integer`);
  }
  const config: TowerConfig = {
    family: 'open_clip_timm',
    modelType: name,
    ...shape,
    imageSize,
    intermediateSize: 4 * shape.hiddenSize,
    layerNormEps: 1e-6,
    act: 'gelu',
    registers: 0,
  };
  checkHeads(config, source);
  return config;
}
