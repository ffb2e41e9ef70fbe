import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskCard } from '../task/card.js';
import { taskCard } from '../task/catalogue.js';
import { casesOf, readManifest } from '../task/manifest.js';
import { readCaseImage } from './image.js';
import { readMedMnistDataset, readNpzVolume } from './medmnist.js';
import { medMnistVolume, readMedMnist } from './npz.js';
import { writeManifestCsv } from './write.js';

const ADRENAL = fileURLToPath(new URL('../../../../../shared/data/medmnist/adrenalmnist3d.npz', import.meta.url));
const BAD = fileURLToPath(new URL('../../fixtures/datasets/bad_labels.npz', import.meta.url));

describe('readMedMnistDataset', () => {
  let adrenal: TaskCard;
  beforeAll(async () => {
    adrenal = await taskCard('medmnist-adrenal');
  });

  it('reads AdrenalMNIST3D with its official splits and label counts', async () => {
    const m = await readMedMnistDataset(ADRENAL, adrenal);
    // the counts published with the data (shared/data/README.md): train 929/259, val 76/22, test 229/69
    const count = (split: 'train' | 'val' | 'test') => {
      const cases = casesOf(m, split);
      return [cases.length, cases.filter((c) => c.labels[0] === 1).length];
    };
    expect(count('train')).toEqual([1188, 259]);
    expect(count('val')).toEqual([98, 22]);
    expect(count('test')).toEqual([298, 69]);
    expect(m.cases[1188]!.id).toBe('val-0');
    expect(m.cases[1188]!.images).toEqual([`${ADRENAL}#val/0`]);
  });

  it('resolves an image entry to the same volume as the split array holds', async () => {
    const m = await readMedMnistDataset(ADRENAL, adrenal);
    const test = await readMedMnist(ADRENAL, 'test');
    for (const c of casesOf(m, 'test').slice(5, 8)) {
      const index = Number(c.id.split('-')[1]);
      const v = await readNpzVolume(c.images[0]!);
      const expected = medMnistVolume(test, index);
      expect([...v.size]).toEqual([28, 28, 28]);
      expect(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength)).toEqual(
        Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength),
      );
      expect(c.labels[0]).toBe(test.labels[index]);
    }
    const viaCase = await readCaseImage(`${ADRENAL}#train/3`);
    expect(viaCase.data).toEqual(medMnistVolume(await readMedMnist(ADRENAL, 'train'), 3).data);
    await expect(readNpzVolume(`${ADRENAL}#test/298`)).rejects.toThrow(
      /test_images holds 298 volumes; there is no volume 298/,
    );
    await expect(readNpzVolume(`${ADRENAL}#holdout/1`)).rejects.toThrow(/unknown split "holdout"/);
  });

  it('writes a manifest that readManifest reads back, archive entries included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-medmnist-'));
    const npz = join(dir, 'adrenalmnist3d.npz');
    await copyFile(ADRENAL, npz);
    const m = await readMedMnistDataset(npz, adrenal);
    await writeManifestCsv(m, join(dir, 'manifest.csv'));
    const back = await readManifest(join(dir, 'manifest.csv'), adrenal);
    expect(back.cases.map((c) => [c.id, c.split, c.images[0], c.labels[0]])).toEqual(
      m.cases.map((c) => [c.id, c.split, c.images[0], c.labels[0]]),
    );
    expect(back.cases[0]!.images[0]).toBe(`${npz}#train/0`);
  });

  it('maps a multi-class label index to the card class, and names a label outside the card', async () => {
    const fracture = await taskCard('medmnist-fracture');
    const m = await readMedMnistDataset(BAD, fracture);
    expect(m.cases.map((c) => c.classIndex)).toEqual([0, 1, 2, 0, 1]);
    expect(Array.from(m.cases[2]!.labels)).toEqual([0, 0, 1]);
    await expect(readMedMnistDataset(BAD, adrenal)).rejects.toThrow(
      `${BAD}: train_labels[2] is 2, outside the card's 2 classes`,
    );
    await expect(readMedMnistDataset(BAD, await taskCard('ct-rate'))).rejects.toThrow(/read by the "ct-rate" reader/);
    await expect(readMedMnistDataset(join(tmpdir(), 'none.npz'), adrenal)).rejects.toThrow(/none\.npz: no such file/);
  });
});
