import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { imageDigest } from '../datasets/image-digest.js';
import { npzRef } from '../datasets/image-ref.js';
import { viewTokens } from '../pipeline/view-tokens.js';
import { inputViews, type PluginInput } from '../plugin/input.js';
import { recipeFeatureCache } from '../plugin/recipe.js';
import type { ManifestCase } from '../task/manifest.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import { asProcessed } from '../volume/record.js';
import type { Volume } from '../volume/types.js';
import { writeVolume } from '../volume/write.js';
import { caseSources } from './case-sources.js';

const cube = (seed: number): Volume => ({
  data: Int16Array.from({ length: 6 * 6 * 4 }, (_, i) => ((i * 37 + seed * 11) % 200) - 100),
  size: [6, 6, 4],
  spacing: [1, 1, 2],
  origin: [0, 0, 0],
  direction: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1),
});

const manifestCase = (id: string, path: string): ManifestCase => ({
  id,
  split: 'train',
  images: [path],
  mask: null,
  labels: Uint8Array.of(0),
  classIndex: null,
});

const input: PluginInput = {
  views: [{ name: 'axial', axis: 'axial' }],
  size: [8, 8],
  channels: { replicate: true, range: [-100, 100] },
  normalisation: null,
};

describe('caseSources: cache entries named by content', () => {
  it('the same volume under another id and folder is served from the cache; another volume under a reused id is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'case-sources-'));
    const a = join(dir, 'a.nii.gz');
    const b = join(dir, 'b.nii.gz');
    await writeVolume(cube(1), a);
    await writeVolume(cube(2), b);
    const copied = join(dir, 'copy-of-a.nii.gz');
    await copyFile(a, copied);
    const backbone = tinyCnnBackbone({ dim: 4, patch: 4 });
    const views = inputViews(input, backbone.card);
    const cache = recipeFeatureCache(join(dir, 'cache'), backbone, input, views);
    const embedder = new BackboneEmbedder(backbone, { threads: 1 });
    const run = async (cases: ManifestCase[]) => {
      let computed = 0;
      const tokens = await viewTokens(caseSources(cases, input), views, embedder, cache, (p) => {
        computed = p.computed;
      });
      return { tokens, computed };
    };
    const first = await run([manifestCase('train-0', a)]);
    expect(first.computed).toBe(1);
    // Another dataset's copy of the same file, under another id: no backbone pass, the same tokens.
    const copy = await run([manifestCase('patient-7', copied)]);
    expect(copy.computed).toBe(0);
    expect(Array.from(copy.tokens.get('patient-7')!.get('axial')!.tokens)).toEqual(
      Array.from(first.tokens.get('train-0')!.get('axial')!.tokens),
    );
    // Another dataset reusing the id `train-0` for other voxels: computed, not served a stranger's tokens.
    const other = await run([manifestCase('train-0', b)]);
    expect(other.computed).toBe(1);
    expect(Array.from(other.tokens.get('train-0')!.get('axial')!.tokens)).not.toEqual(
      Array.from(first.tokens.get('train-0')!.get('axial')!.tokens),
    );
    await embedder.release();
  });

  it('an .npz reference is its archive plus split and index; a changed file gets a new digest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-'));
    const file = join(dir, 'set.npz');
    await writeFile(file, 'first bytes');
    const d0 = await imageDigest(npzRef(file, 'train', 0));
    expect(await imageDigest(npzRef(file, 'train', 1))).not.toBe(d0);
    expect(await imageDigest(npzRef(file, 'val', 0))).not.toBe(d0);
    expect(await imageDigest(npzRef(file, 'train', 0))).toBe(d0);
    await writeFile(file, 'other bytes, other size');
    expect(await imageDigest(npzRef(file, 'train', 0))).not.toBe(d0);
    await expect(imageDigest(join(dir, 'missing.nii.gz'))).rejects.toThrow(/missing\.nii\.gz.*no such file/);
  });

  it('a digest index spares a later run reading the files again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-index-'));
    const file = join(dir, 'case.nii.gz');
    await writeFile(file, 'the bytes of a large CT');
    const index = join(dir, 'index');
    const digest = await imageDigest(file, index);
    const [sub] = await readdir(index);
    const [entry] = await readdir(join(index, sub!));
    expect((await readFile(join(index, sub!, entry!), 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
    // A later process (fresh module state) takes the file's digest from the index: shown by a planted value.
    await writeFile(join(index, sub!, entry!), `${'a'.repeat(64)}\n`);
    vi.resetModules();
    const later = await import('../datasets/image-digest.js');
    expect(await later.imageDigest(file, index)).not.toBe(digest);
    vi.resetModules();
    const without = await import('../datasets/image-digest.js');
    expect(await without.imageDigest(file)).toBe(digest); // without the index: read and hashed
  });
});

describe('caseSources: a case holds its volumes only while a view still needs them', () => {
  it('views of one file read it once; once every view had its volume, it is let go (a later ask reads again)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'case-release-'));
    const path = join(dir, 'case.nii.gz');
    await writeVolume(cube(1), path);
    const twoViews: PluginInput = {
      ...input,
      views: [
        { name: 'axial', axis: 'axial' },
        { name: 'coronal', axis: 'coronal' },
      ],
    };
    const c = { ...manifestCase('c', path), images: [path, path] };
    const [source] = caseSources([c], twoViews);
    const first = Array.from(asProcessed(await source!.load('axial')).volume.data);
    // The file changes between the views: the second view still gets the one read.
    await writeVolume(cube(2), path);
    expect(Array.from(asProcessed(await source!.load('coronal')).volume.data)).toEqual(first);
    // Every view has had its volume, so none is kept: asking again reads the file as it is now.
    expect(Array.from(asProcessed(await source!.load('axial')).volume.data)).not.toEqual(first);
  });
});
