import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { taskCard } from '../task/catalogue.js';
import { readDataset } from './read.js';

const ADRENAL = fileURLToPath(new URL('../../../../../shared/data/medmnist/adrenalmnist3d.npz', import.meta.url));

describe('readDataset', () => {
  it('reads through the reader the card names', async () => {
    const m = await readDataset(await taskCard('medmnist-adrenal'), { path: ADRENAL });
    expect(m.cases).toHaveLength(1188 + 98 + 298);
  });

  it('says why a card cannot be read', async () => {
    await expect(readDataset(await taskCard('head-ct'), { path: '/data' })).rejects.toThrow(
      'head-ct: the data of this task is not public: write a manifest for your own data instead',
    );
    await expect(readDataset(await taskCard('panorama-pdac'), { path: '/data/images' })).rejects.toThrow(
      '/data/images: PANORAMA needs its case table',
    );
    const odd = { ...(await taskCard('ct-rate')), data: { source: 's', licence: 'l', reader: 'kits' } };
    await expect(readDataset(odd, { path: '/data' })).rejects.toThrow(
      /unknown dataset reader "kits" \(known: rsna-trauma/,
    );
  });
});
