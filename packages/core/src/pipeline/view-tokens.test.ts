import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { FeatureCache } from '../features/cache.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import type { Volume } from '../volume/types.js';
import type { ViewInput } from './embed-volume.js';
import { viewTokens } from './view-tokens.js';

const cube = (seed: number): Volume => ({
  data: Uint8Array.from({ length: 8 * 8 * 8 }, (_, i) => (i * 37 + seed * 11) % 256),
  size: [8, 8, 8],
  spacing: [1, 1, 1],
  origin: [0, 0, 0],
  direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
});

describe('viewTokens', () => {
  it('computes once, then serves every case and view from the cache', async () => {
    const backbone = tinyCnnBackbone({ dim: 5, patch: 4 });
    const embedder = new BackboneEmbedder(backbone, { threads: 1 });
    const cache = new FeatureCache(await mkdtemp(join(tmpdir(), 'vt-')), {
      backboneHash: backbone.weightHash,
      preprocessing: 'test',
    });
    const views: ViewInput[] = ['axial', 'coronal'].map((axis) => ({
      name: axis,
      axis: axis as 'axial' | 'coronal',
      size: [8, 8],
      channels: { replicate: true, range: [0, 255] },
      mean: [0, 0, 0],
      std: [1, 1, 1],
    }));
    let loads = 0;
    const cases = [0, 1, 2].map((k) => ({
      id: `c${k}`,
      entry: async () => `content-of-c${k}`,
      load: async () => {
        loads++;
        return cube(k);
      },
    }));
    const progress: number[] = [];
    const first = await viewTokens(cases, views, embedder, cache, (p) => progress.push(p.computed));
    expect(loads).toBe(6);
    expect(progress.at(-1)).toBe(6);
    const second = await viewTokens(cases, views, embedder, cache);
    expect(loads).toBe(6);
    const a = first.get('c1')!.get('coronal')!;
    const b = second.get('c1')!.get('coronal')!;
    expect(a.slices).toBe(8);
    expect(a.dim).toBe(5);
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    await embedder.release();
  });
});
