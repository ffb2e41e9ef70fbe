import { readFile } from 'node:fs/promises';
import { InputError } from '@anymc3d/core';

/** A Hugging Face `config.json` as a plain object; a missing or unreadable file is an InputError. */
export async function readHfConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(path, code === 'ENOENT' ? 'file is missing' : `cannot read (${code ?? String(error)})`, {
      cause: error,
    });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new InputError(path, `not a JSON object (${(error as Error).message})`, { cause: error });
  }
}
