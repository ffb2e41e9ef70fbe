import { readFile } from 'node:fs/promises';
import { InputError } from '@anymc3d/core';
import type { BackboneCard } from '@anymc3d/core/backbone';

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
