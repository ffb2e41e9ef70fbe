import { basename, join } from 'node:path';
import type { BackboneCard } from '@anymc3d/core/backbone';
import { readHfConfig } from '../weights/index.js';
import type { Dinov2Config } from './config.js';
import { parseDinov2Config } from './config.js';
import { Dinov2Backbone } from './dinov2.js';
import { assertCardMatchesConfig, readFolderWeights, VIT_WEIGHT_FILES, vitCardFromConfig } from './folder.js';
import { loadDinov2Weights } from './weights.js';

export const DINOV2_WEIGHT_FILES = VIT_WEIGHT_FILES;

/** A card for a DINOv2 folder that is not a registry entry. */
export function dinov2CardFromConfig(name: string, c: Dinov2Config, source: string): BackboneCard {
  return vitCardFromConfig(
    name,
    c.modelType === 'dinov2_with_registers' ? 'Dinov2WithRegistersModel' : 'Dinov2Model',
    c,
    source,
  );
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
  const { file, weightHash } = await readFolderWeights(dir, 'DINOv2');
  return new Dinov2Backbone(finalCard, config, loadDinov2Weights(file, config), weightHash);
}
