import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '@anymc3d/core';
import { encodeSafetensors } from '@anymc3d/core/io';
import { readTorchCheckpoint } from './torch-checkpoint.js';

/** Pickled checkpoints a downloaded folder may hold, and the safetensors file each becomes. */
export const PICKLED_CHECKPOINTS: readonly { pickle: string; safetensors: string }[] = [
  { pickle: 'open_clip_pytorch_model.bin', safetensors: 'open_clip_model.safetensors' },
  { pickle: 'pytorch_model.bin', safetensors: 'model.safetensors' },
];

export interface ConvertedCheckpoint {
  from: string;
  to: string;
  tensors: number;
  bytes: number;
}

/**
 * Converts a folder's pickled PyTorch checkpoint to safetensors beside it, once, so loading never
 * reads a pickle (which can run code; the converter runs none of it — see torch-checkpoint.ts).
 * Floating-point tensors are stored as float32, integer buffers as int64. The file is written to
 * a temporary name and renamed, so an interrupted conversion leaves no partial weights.
 */
export async function convertPickledCheckpoint(dir: string): Promise<ConvertedCheckpoint> {
  const found = PICKLED_CHECKPOINTS.find((c) => existsSync(join(dir, c.pickle)));
  if (!found) {
    throw new InputError(
      dir,
      `no pickled checkpoint to convert (looked for ${PICKLED_CHECKPOINTS.map((c) => c.pickle).join(', ')})`,
    );
  }
  const from = join(dir, found.pickle);
  const to = join(dir, found.safetensors);
  if (existsSync(to)) throw new InputError(to, 'already exists; remove it to convert again');
  const tensors = readTorchCheckpoint(new Uint8Array(await readFile(from)), from);
  const bytes = encodeSafetensors(tensors, { format: 'pt', converted_from: found.pickle });
  const partial = `${to}.partial`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, to);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { from, to, tensors: tensors.size, bytes: bytes.length };
}
