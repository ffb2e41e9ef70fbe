import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '../graph/tensor.js';
import { canonicalJson, FeatureCache, safeName } from './cache.js';

describe('FeatureCache', () => {
  it('stores and returns tokens per case and view', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fc-'));
    const cache = new FeatureCache(root, { backboneHash: 'ab'.repeat(32), preprocessing: { size: 64, axis: 'axial' } });
    expect(cache.has('case/1', 'axial')).toBe(false);
    await cache.write('case/1', 'axial', { cls: tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]) });
    expect(cache.has('case/1', 'axial')).toBe(true);
    const back = await cache.read('case/1', 'axial');
    expect(Array.from(back.get('cls')!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await readdir(cache.dir)).toEqual(['case%2f1.axial.safetensors']);
  });

  it('a different backbone or preprocessing never sees the entry', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fc-'));
    const a = new FeatureCache(root, { backboneHash: 'a'.repeat(64), preprocessing: { size: 64, axis: 'axial' } });
    const sameKeysReordered = new FeatureCache(root, {
      backboneHash: 'a'.repeat(64),
      preprocessing: { axis: 'axial', size: 64 },
    });
    const b = new FeatureCache(root, { backboneHash: 'a'.repeat(64), preprocessing: { size: 128, axis: 'axial' } });
    const c = new FeatureCache(root, { backboneHash: 'b'.repeat(64), preprocessing: { size: 64, axis: 'axial' } });
    await a.write('x', 'v', { cls: tensor('float32', [1], [1]) });
    expect(sameKeysReordered.has('x', 'v')).toBe(true);
    expect(b.has('x', 'v')).toBe(false);
    expect(c.has('x', 'v')).toBe(false);
  });

  it('spells ids safely and canonicalises JSON', () => {
    expect(safeName('../etc/passwd')).toBe('%2e%2e%2fetc%2fpasswd');
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] })).toBe('{"a":[2,{"c":2,"d":1}],"b":1}');
  });
});
