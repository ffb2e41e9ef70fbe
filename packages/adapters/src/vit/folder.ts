import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '@anymc3d/core';
import type { BackboneCard } from '@anymc3d/core/backbone';
import { parseSafetensors, type SafetensorsFile } from '@anymc3d/core/io';

/** What the ViT folder loaders share: reading the weights file and checking a card against config.json. */

export async function readWeightsFile(path: string, family: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      path,
      code === 'ENOENT'
        ? `file is missing (a ${family} folder holds config.json + model.safetensors, as downloaded from Hugging Face)`
        : `cannot read (${code ?? String(error)})`,
      { cause: error },
    );
  }
}

/** The files a Hugging Face ViT folder holds. */
export const VIT_WEIGHT_FILES = ['config.json', 'model.safetensors'];

interface VitShape {
  hiddenSize: number;
  layers: number;
  heads: number;
  patchSize: number;
  registers: number;
  imageSize: number;
}

/** Per-channel normalisation of [0,1] RGB. */
export interface Normalisation {
  mean: [number, number, number];
  std: [number, number, number];
}

/**
 * A card for a ViT folder that is not a registry entry: ImageNet mean/std (as the DINO
 * processors use) unless the family's own is given.
 */
export function vitCardFromConfig(
  name: string,
  architecture: string,
  c: VitShape,
  source: string,
  normalisation?: Normalisation,
): BackboneCard {
  return {
    name,
    family: 'vit',
    architecture,
    embedDim: c.hiddenSize,
    patchSize: c.patchSize,
    depth: c.layers,
    heads: c.heads,
    registers: c.registers,
    inputSize: [c.imageSize, c.imageSize],
    mean: normalisation?.mean ?? [0.485, 0.456, 0.406],
    std: normalisation?.std ?? [0.229, 0.224, 0.225],
    licence: 'unknown (local folder)',
    source,
    weightFiles: [...VIT_WEIGHT_FILES],
  };
}

/** A folder's safetensors file, parsed lazily, with the sha256 of its bytes (the plugin-binding hash). */
export async function readFolderWeights(
  dir: string,
  family: string,
  fileName = 'model.safetensors',
): Promise<{ file: SafetensorsFile; weightHash: string }> {
  const path = join(dir, fileName);
  const bytes = await readWeightsFile(path, family);
  return { file: parseSafetensors(bytes, path), weightHash: createHash('sha256').update(bytes).digest('hex') };
}

/** A registry card's architecture numbers must agree with the folder's config.json. */
export function assertCardMatchesConfig(
  card: BackboneCard,
  config: { hiddenSize: number; layers: number; heads: number; patchSize: number; registers: number },
  configPath: string,
): void {
  const mismatch = (
    [
      ['embedDim', card.embedDim, config.hiddenSize],
      ['depth', card.depth, config.layers],
      ['heads', card.heads, config.heads],
      ['patchSize', card.patchSize, config.patchSize],
      ['registers', card.registers ?? 0, config.registers],
    ] as const
  ).find(([, a, b]) => a !== undefined && a !== b);
  if (mismatch) {
    throw new InputError(
      configPath,
      `${mismatch[0]} is ${mismatch[2]} but backbone ${card.name} expects ${mismatch[1]}`,
    );
  }
}
