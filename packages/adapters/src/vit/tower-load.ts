import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '@anymc3d/core';
import type { BackboneCard } from '@anymc3d/core/backbone';
import { readHfConfig } from '../weights/index.js';
import {
  assertCardMatchesConfig,
  type Normalisation,
  readFolderWeights,
  VIT_WEIGHT_FILES,
  vitCardFromConfig,
} from './folder.js';
import { ImageTowerBackbone } from './tower.js';
import { parseOpenClipConfig, parseTowerConfig, type TowerConfig } from './tower-config.js';
import { loadHfTowerWeights, loadTimmTowerWeights } from './tower-weights.js';

export const TOWER_WEIGHT_FILES = VIT_WEIGHT_FILES;
/** What an open_clip folder holds once converted (`anymc3d backbones convert`). */
export const OPEN_CLIP_WEIGHT_FILES = ['open_clip_config.json', 'open_clip_model.safetensors'];
export const OPEN_CLIP_PICKLE = 'open_clip_pytorch_model.bin';

/** The normalisations the processors of each family use when a folder does not say. */
export const OPENAI_CLIP_NORMALISATION: Normalisation = {
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};
export const SIGLIP_NORMALISATION: Normalisation = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

const triple = (v: unknown): v is [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** `image_mean`/`image_std` of a folder's preprocessor_config.json, if it has one. */
async function processorNormalisation(dir: string): Promise<Normalisation | undefined> {
  const path = join(dir, 'preprocessor_config.json');
  if (!existsSync(path)) return undefined;
  const raw = await readHfConfig(path);
  if (!triple(raw.image_mean) || !triple(raw.image_std)) {
    throw new InputError(path, '"image_mean" and "image_std" must be three numbers each');
  }
  return { mean: raw.image_mean, std: raw.image_std };
}

export function towerArchitecture(c: TowerConfig): string {
  if (c.family === 'clip') return 'CLIPVisionModel';
  if (c.family === 'siglip') return 'SiglipVisionModel';
  return 'OpenCLIPTimmViT';
}

/**
 * Loads a Hugging Face CLIP or SigLIP folder (`config.json` + `model.safetensors`, a two-tower
 * or a vision-only checkpoint). `card` overrides the derived card; its numbers must agree.
 */
export async function loadImageTower(
  dir: string,
  card?: BackboneCard,
  raw?: Record<string, unknown>,
): Promise<ImageTowerBackbone> {
  const configPath = join(dir, 'config.json');
  const config = parseTowerConfig(raw ?? (await readHfConfig(configPath)), configPath);
  const finalCard =
    card ??
    vitCardFromConfig(
      basename(dir),
      towerArchitecture(config),
      config,
      dir,
      (await processorNormalisation(dir)) ??
        (config.family === 'clip' ? OPENAI_CLIP_NORMALISATION : SIGLIP_NORMALISATION),
    );
  assertCardMatchesConfig(finalCard, config, configPath);
  const { file, weightHash } = await readFolderWeights(dir, config.family === 'clip' ? 'CLIP' : 'SigLIP');
  return new ImageTowerBackbone(finalCard, config, loadHfTowerWeights(file, config), weightHash);
}

/**
 * Loads an open_clip folder whose image tower is a timm ViT (`open_clip_config.json` +
 * `open_clip_model.safetensors`). Checkpoints published only as a pickle must be converted
 * first: a pickle can run code when loaded, so it is never read at load time.
 */
export async function loadOpenClipTower(dir: string, card?: BackboneCard): Promise<ImageTowerBackbone> {
  const configPath = join(dir, 'open_clip_config.json');
  const raw = await readHfConfig(configPath);
  const config = parseOpenClipConfig(raw, configPath);
  const weightsPath = join(dir, OPEN_CLIP_WEIGHT_FILES[1]!);
  if (!existsSync(weightsPath)) {
    const pickle = existsSync(join(dir, OPEN_CLIP_PICKLE));
    throw new InputError(
      weightsPath,
      pickle
        ? `file is missing; this folder holds the pickled ${OPEN_CLIP_PICKLE}: run \`anymc3d backbones convert ${dir}\` once to write it`
        : `file is missing (an open_clip folder holds ${OPEN_CLIP_WEIGHT_FILES.join(' + ')})`,
    );
  }
  const pre = raw.preprocess_cfg as Record<string, unknown> | undefined;
  const normalisation =
    pre && triple(pre.mean) && triple(pre.std) ? { mean: pre.mean, std: pre.std } : OPENAI_CLIP_NORMALISATION;
  const finalCard = card ?? {
    ...vitCardFromConfig(basename(dir), towerArchitecture(config), config, dir, normalisation),
    weightFiles: [...OPEN_CLIP_WEIGHT_FILES],
  };
  assertCardMatchesConfig(finalCard, config, configPath);
  const { file, weightHash } = await readFolderWeights(dir, 'open_clip', OPEN_CLIP_WEIGHT_FILES[1]);
  return new ImageTowerBackbone(finalCard, config, loadTimmTowerWeights(file, config), weightHash);
}
