import { basename, join } from 'node:path';
import type { BackboneCard } from '@anymc3d/core/backbone';
import { readHfConfig } from '../weights/index.js';
import { Dinov3Backbone } from './dinov3.js';
import { type Dinov3Config, parseDinov3Config } from './dinov3-config.js';
import { loadDinov3Weights } from './dinov3-weights.js';
import { assertCardMatchesConfig, readFolderWeights, VIT_WEIGHT_FILES, vitCardFromConfig } from './folder.js';

export const DINOV3_WEIGHT_FILES = VIT_WEIGHT_FILES;

/** A card for a DINOv3 folder that is not a registry entry. */
export function dinov3CardFromConfig(name: string, c: Dinov3Config, source: string): BackboneCard {
  return vitCardFromConfig(name, 'DINOv3ViTModel', c, source);
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
  const { file, weightHash } = await readFolderWeights(dir, 'DINOv3');
  return new Dinov3Backbone(finalCard, config, loadDinov3Weights(file, config), weightHash);
}
