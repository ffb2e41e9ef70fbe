import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../graph/tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';

/** JSON with object keys sorted, so equal settings always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export interface FeatureCacheKey {
  /** sha256 of the backbone's weights. */
  backboneHash: string;
  /** Everything that changes what reaches the backbone: windows, size, axis, mean/std … */
  preprocessing: unknown;
}

/**
 * Frozen-backbone outputs per (case, view), stored once and reused by probe training, repeated
 * runs and `--continue`. The folder name is derived from the backbone's weight hash and the
 * preprocessing hash, so a change of either can never serve stale tokens.
 */
export class FeatureCache {
  readonly dir: string;
  /**
   * Where image digests are kept across runs (`imageDigest`'s index): beside the recipe folders,
   * shared by all of them, so a rerun finds its entries without reading the images again.
   */
  readonly digestIndex: string;

  constructor(root: string, key: FeatureCacheKey) {
    this.digestIndex = join(root, '.digests');
    this.dir = join(root, `${key.backboneHash.slice(0, 16)}-${hashOf(key.preprocessing).slice(0, 16)}`);
  }

  /** An entry is named by its case's content (`CaseVolumes.entry`) and the view. */
  private path(entry: string, view: string): string {
    return join(this.dir, `${safeName(entry)}.${safeName(view)}.safetensors`);
  }

  has(entry: string, view: string): boolean {
    return existsSync(this.path(entry, view));
  }

  async read(entry: string, view: string): Promise<Map<string, Tensor>> {
    const path = this.path(entry, view);
    return (await readSafetensors(path)).tensors();
  }

  /**
   * Written atomically, so an interrupted extraction never leaves a cached entry that looks
   * complete; `about` (e.g. the case id that made it) is kept in the file's metadata.
   */
  async write(
    entry: string,
    view: string,
    tensors: Record<string, Tensor>,
    about: Record<string, string> = {},
  ): Promise<void> {
    await writeSafetensors(this.path(entry, view), tensors, { ...about, entry, view });
  }
}

/** A file-name-safe, reversible spelling of an id: no separators or dot-segments reach the path. */
export function safeName(id: string): string {
  if (id.length === 0) throw new Error('an empty id cannot name a cache entry');
  return id.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
