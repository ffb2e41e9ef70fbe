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

/**
 * Typed reads of a config.json's fields, each refusing a wrong value with an InputError naming
 * `source` and the field (`where.key` for a nested object such as `vision_config`).
 */
export function configFields(raw: Record<string, unknown>, source: string, where = '') {
  const at = (key: string) => (where ? `${where}.${key}` : key);
  const get = (key: string, fallback: unknown, ok: (v: unknown) => boolean, what: string) => {
    const v = raw[key] ?? fallback;
    if (!ok(v)) throw new InputError(source, `"${at(key)}" must be ${what} (got ${JSON.stringify(v)})`);
    return v;
  };
  return {
    at,
    /** A whole number ≥ `min` (0: a "non-negative integer", 1: a "positive integer"). */
    int: (key: string, fallback?: number, min = 0): number =>
      get(
        key,
        fallback,
        (v) => typeof v === 'number' && Number.isInteger(v) && v >= min,
        min === 0 ? 'a non-negative integer' : 'a positive integer',
      ) as number,
    number: (key: string, fallback: number): number =>
      get(key, fallback, (v) => typeof v === 'number' && Number.isFinite(v), 'a number') as number,
    positive: (key: string, fallback: number): number =>
      get(key, fallback, (v) => typeof v === 'number' && Number.isFinite(v) && v > 0, 'a positive number') as number,
    flag: (key: string, fallback: boolean): boolean =>
      get(key, fallback, (v) => typeof v === 'boolean', 'true or false') as boolean,
  };
}
