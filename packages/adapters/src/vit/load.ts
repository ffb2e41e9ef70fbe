import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import type { BackboneCard } from '@anymc3d/core/backbone';
import { parseSafetensors } from '@anymc3d/core/io';
import { readHfConfig } from '../weights/index.js';
import type { Dinov2Config } from './config.js';
import { parseDinov2Config } from './config.js';
import { Dinov2Backbone } from './dinov2.js';
import { assertCardMatchesConfig, readWeightsFile } from './folder.js';
import { loadDinov2Weights } from './weights.js';

export const DINOV2_WEIGHT_FILES = ['config.json', 'model.safetensors'];

/** A card for a DINOv2 folder that is not a registry entry (ImageNet mean/std, as DINOv2's processor). */
export function dinov2CardFromConfig(name: string, c: Dinov2Config, source: string): BackboneCard {
  return {
    name,
    family: 'vit',
    architecture: c.modelType === 'dinov2_with_registers' ? 'Dinov2WithRegistersModel' : 'Dinov2Model',
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
    weightFiles: [...DINOV2_WEIGHT_FILES],
  };
}

/**
 * Loads a Hugging Face DINOv2 folder (`config.json` + `model.safetensors`). `card` overrides the
 * derived card (registry entries carry their own name, preprocessing and licence); its
 * architecture numbers must agree with config.json.
 */
export async function loadDinov2(
  dir: string,
  card?: BackboneCard,
  raw?: Record<string, unknown>,
): Promise<Dinov2Backbone> {
  const configPath = join(dir, 'config.json');
  const rawConfig = raw ?? (await readHfConfig(configPath));
  const config = parseDinov2Config(rawConfig, configPath);
  const finalCard = card ?? dinov2CardFromConfig(basename(dir), config, dir);
  assertCardMatchesConfig(finalCard, config, configPath);
  const path = join(dir, 'model.safetensors');
  const bytes = await readWeightsFile(path, 'DINOv2');
  const weightHash = createHash('sha256').update(bytes).digest('hex');
  const weights = loadDinov2Weights(parseSafetensors(bytes, path), config);
  return new Dinov2Backbone(finalCard, config, weights, weightHash);
}
