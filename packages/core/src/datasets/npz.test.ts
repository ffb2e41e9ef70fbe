import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../util/errors.js';
import { expectVoxels, FIXTURES, REFERENCE, SHARED_DATA } from '../volume/fixtures.test-helpers.js';
import { medMnistVolume, readMedMnist, readNpz } from './npz.js';

const small = REFERENCE['small.npz'] as unknown as { a: number[]; b: number[] };

describe('readNpz', () => {
  for (const name of ['small_compressed.npz', 'small_stored.npz']) {
    it(`${name}: arrays equal numpy's`, async () => {
      const arrays = await readNpz(join(FIXTURES, name));
      const a = arrays.get('a')!;
      expect(a.dtype).toBe('float32');
      expect(a.shape).toEqual([2, 3, 4]);
      expect(Array.from(a.data as Float32Array)).toEqual(small.a.map((x) => Math.fround(x)));
      expect(arrays.get('b')!.data).toEqual(Int16Array.from(small.b));
    });
  }

  it('bad archives are clear errors naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-npz-'));
    const good = await readFile(join(FIXTURES, 'small_compressed.npz'));
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty.npz', new Uint8Array(0), /empty/],
      ['magic.npz', Buffer.from('not a zip at all, not at all'), /wrong magic/],
      ['cut.npz', good.subarray(0, good.length - 40), /truncated|end-of-central-directory/],
    ];
    for (const [name, bytes, problem] of cases) {
      const path = join(dir, name);
      await writeFile(path, bytes);
      const error = await readNpz(path).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(InputError);
      expect((error as InputError).source).toBe(path);
      expect((error as InputError).problem).toMatch(problem);
    }
    await expect(readNpz(join(dir, 'missing.npz'))).rejects.toThrow(/no such file/);
    await expect(readNpz(join(FIXTURES, 'small_stored.npz'), ['c'])).rejects.toThrow(/no member "c"/);
  });
});

describe('MedMNIST', () => {
  it('AdrenalMNIST3D train split: counts, labels and a volume equal numpy', async () => {
    const ref = REFERENCE['shared:medmnist/adrenalmnist3d.npz'] as unknown as Parameters<typeof expectVoxels>[1] & {
      trainCount: number;
      side: number;
      trainPositives: number;
    };
    const set = await readMedMnist(join(SHARED_DATA, 'medmnist/adrenalmnist3d.npz'), 'train');
    expect(set.count).toBe(ref.trainCount);
    expect(set.side).toBe(ref.side);
    expect(set.labels.reduce((a, b) => a + b, 0)).toBe(ref.trainPositives);
    const volume = medMnistVolume(set, 5);
    expect(volume.data).toBeInstanceOf(Uint8Array);
    expectVoxels(volume, ref);
    expect(() => medMnistVolume(set, set.count)).toThrow(/outside/);
  });
});
