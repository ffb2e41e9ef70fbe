import { mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeatureCache } from '@anymc3d/core/features';
import { tensor } from '@anymc3d/core/graph';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../run-cli.test-helpers.js';

describe('anymc3d cache', () => {
  it('stats counts entries per folder; prune removes old entries, old temp files and emptied folders', async () => {
    const root = await mkdtemp(join(tmpdir(), 'anymc3d-cache-'));
    const a = new FeatureCache(root, { backboneHash: 'a'.repeat(64), preprocessing: { recipe: 1 } });
    const b = new FeatureCache(root, { backboneHash: 'b'.repeat(64), preprocessing: { recipe: 2 } });
    const cls = tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    for (const e of ['e1', 'e2', 'e3']) await a.write(e, 'axial', { cls });
    await b.write('e9', 'axial', { cls });
    const old = (Date.now() - 40 * 86_400_000) / 1000;
    await utimes(join(a.dir, 'e1.axial.safetensors'), old, old);
    for (const f of await readdir(b.dir)) await utimes(join(b.dir, f), old, old);
    // What a writer killed mid-write leaves: a hidden temp file, two hours old.
    await writeFile(join(a.dir, '.e4.axial.safetensors.abc123.tmp'), 'partial');
    const twoHours = (Date.now() - 7_200_000) / 1000;
    await utimes(join(a.dir, '.e4.axial.safetensors.abc123.tmp'), twoHours, twoHours);

    const stats = await capture(['cache', 'stats', '--cache', root]);
    expect(stats.code).toBe(0);
    expect(stats.out).toContain('2 folder(s), 4 entries');
    expect(stats.out).toMatch(/\| 3 \| [\d.]+ \| \d{4}-\d\d-\d\d \| \d{4}-\d\d-\d\d \| 1 \|/);

    const dry = await capture(['cache', 'prune', '--cache', root, '--older-than', '30', '--dry-run']);
    expect(dry.out).toContain('would remove 3 file(s)');
    expect((await readdir(a.dir)).length).toBe(4);
    const pruned = await capture(['cache', 'prune', '--cache', root, '--older-than', '30']);
    expect(pruned.out).toMatch(/removed 3 file\(s\), [\d.]+ MiB; 1 empty folder\(s\) gone/);
    expect((await readdir(a.dir)).sort()).toEqual(['e2.axial.safetensors', 'e3.axial.safetensors']);
    expect(await readdir(root)).toEqual([a.dir.split('/').at(-1)]);

    const none = await capture(['cache', 'stats', '--cache', join(root, 'nowhere')]);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/nowhere: no feature cache here/);
  });
});
