import { stat } from 'node:fs/promises';
import { readVolume, type Volume } from '@anymc3d/core/volume';

/**
 * Parsed volumes for slice rendering, least recently used first out, bounded by voxel bytes,
 * keyed by path and modification time (a re-run that rewrote a heatmap is read afresh).
 * Concurrent requests for one volume share one read.
 */
export class VolumeCache {
  private readonly entries = new Map<string, { key: string; volume: Promise<Volume>; bytes: number }>();
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  async get(path: string): Promise<Volume> {
    const info = await stat(path);
    const key = `${info.mtimeMs}:${info.size}`;
    const hit = this.entries.get(path);
    if (hit && hit.key === key) {
      this.entries.delete(path);
      this.entries.set(path, hit);
      return hit.volume;
    }
    if (hit) this.drop(path);
    const volume = readVolume(path).then((r) => r.volume);
    const entry = { key, volume, bytes: 0 };
    this.entries.set(path, entry);
    try {
      const v = await volume;
      entry.bytes = v.data.byteLength;
      this.total += entry.bytes;
      this.evict();
      return v;
    } catch (error) {
      if (this.entries.get(path) === entry) this.entries.delete(path);
      throw error;
    }
  }

  private drop(path: string): void {
    const e = this.entries.get(path);
    if (!e) return;
    this.total -= e.bytes;
    this.entries.delete(path);
  }

  private evict(): void {
    for (const path of this.entries.keys()) {
      if (this.total <= this.maxBytes || this.entries.size <= 1) break;
      this.drop(path);
    }
  }
}

/** A small LRU of rendered PNGs: a reviewer scrolling back and forth re-renders nothing. */
export class BytesCache {
  private readonly entries = new Map<string, Buffer>();
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Buffer | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: Buffer): void {
    const old = this.entries.get(key);
    if (old) this.total -= old.length;
    this.entries.delete(key);
    this.entries.set(key, value);
    this.total += value.length;
    for (const [k, v] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(k);
      this.total -= v.length;
    }
  }
}
