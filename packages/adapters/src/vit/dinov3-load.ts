import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import type { BackboneCard } from '@anymc3d/core/backbone';
import { parseSafetensors } from '@anymc3d/core/io';
import { readHfConfig } from '../weights/index.js';
import { Dinov3Backbone } from './dinov3.js';
import { type Dinov3Config, parseDinov3Config } from './dinov3-config.js';
import { loadDinov3Weights } from './dinov3-weights.js';
import { assertCardMatchesConfig, readWeightsFile } from './folder.js';

export const DINOV3_WEIGHT_FILES = ['config.json', 'model.safetensors'];

/** A card for a DINOv3 folder that is not a registry entry (ImageNet mean/std, as DINOv3's processor). */
export function dinov3CardFromConfig(name: string, c: Dinov3Config, source: string): BackboneCard {
  return {
    name,
    family: 'vit',
    architecture: 'DINOv3ViTModel',
    embedDim: c.hiddenSize,
    patchSize: c.patchSize,
    depth: c.layers,
    heads: c.heads,
    registers: c.registers,
    inputSize: [c.imageSize, c.imageSize],
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    licence: 'unknown (local folder)',
    source,
    weightFiles: [...DINOV3_WEIGHT_FILES],
  };
}

/**
 * Loads a Hugging Face DINOv3 ViT folder (`config.json` + `model.safetensors`). `card` overrides
 * the derived card; its architecture numbers must agree with config.json.
 */
export async function loadDinov3(
  dir: string,
  card?: BackboneCard,
  raw?: Record<string, unknown>,
): Promise<Dinov3Backbone> {
  const configPath = join(dir, 'config.json');
  const config = parseDinov3Config(raw ?? (await readHfConfig(configPath)), configPath);
  const finalCard = card ?? dinov3CardFromConfig(basename(dir), config, dir);
  assertCardMatchesConfig(finalCard, config, configPath);
  const path = join(dir, 'model.safetensors');
  const bytes = await readWeightsFile(path, 'DINOv3');
  const weightHash = createHash('sha256').update(bytes).digest('hex');
  const weights = loadDinov3Weights(parseSafetensors(bytes, path), config);
  return new Dinov3Backbone(finalCard, config, weights, weightHash);
}
