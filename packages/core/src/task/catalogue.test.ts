import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DATASET_READERS } from '../datasets/read.js';
import { RSNA_TRAUMA_GROUPS } from '../datasets/rsna-trauma.js';
import { listTaskCards, TASK_CARDS_DIR, taskCard } from './catalogue.js';
import { readManifest } from './manifest.js';

const READERS: readonly string[] = DATASET_READERS;

describe('benchmark task catalogue', () => {
  it('holds the public tasks and templates for the non-public ones, all valid cards', async () => {
    const cards = await listTaskCards();
    expect(cards.map((c) => c.id)).toEqual([
      'ct-rate',
      'head-ct',
      'medmnist-adrenal',
      'medmnist-fracture',
      'medmnist-nodule',
      'medmnist-organ',
      'medmnist-synapse',
      'medmnist-vessel',
      'panorama-pdac',
      'rsna-bowel',
      'rsna-extravasation',
      'rsna-kidney',
      'rsna-liver',
      'rsna-spleen',
      'shoulder-mri',
    ]);
    for (const card of cards) {
      if (card.data.public === false) {
        expect(card.labels, card.id).toEqual([]);
        expect(card.data.reader, card.id).toBeUndefined();
      } else {
        expect(card.labels.length, card.id).toBeGreaterThan(0);
        expect(READERS, card.id).toContain(card.data.reader);
        expect(card.data.citation, card.id).toBeTruthy();
        expect(card.notes, card.id).toBeTruthy();
      }
    }
    expect(cards.filter((c) => c.data.public === false).map((c) => c.id)).toEqual(['head-ct', 'shoulder-mri']);
  });

  it('maps each RSNA task to injury columns of the competition table', async () => {
    const all = Object.values(RSNA_TRAUMA_GROUPS).flat();
    for (const card of (await listTaskCards()).filter((c) => c.data.reader === 'rsna-trauma')) {
      expect(card.kind).toBe('binary');
      const columns = card.data.labelColumns?.[card.labels[0]!];
      expect(columns, card.id).toBeDefined();
      for (const column of columns!) {
        expect(all).toContain(column);
        expect(column.endsWith('_healthy')).toBe(false);
      }
    }
    expect((await taskCard('rsna-spleen')).data.labelColumns).toEqual({
      'spleen injury': ['spleen_low', 'spleen_high'],
    });
  });

  it('gives the MedMNIST 3D class lists and kinds', async () => {
    const kinds = Object.fromEntries(
      (await listTaskCards()).filter((c) => c.data.reader === 'medmnist').map((c) => [c.id, [c.kind, c.labels.length]]),
    );
    expect(kinds).toEqual({
      'medmnist-adrenal': ['binary', 1],
      'medmnist-fracture': ['multiclass', 3],
      'medmnist-nodule': ['binary', 1],
      'medmnist-organ': ['multiclass', 11],
      'medmnist-synapse': ['binary', 1],
      'medmnist-vessel': ['binary', 1],
    });
  });

  it('names an unknown task, hands out copies, and ships its cards with the package', async () => {
    await expect(taskCard('rsna-pancreas')).rejects.toThrow(
      /rsna-pancreas: no such benchmark task \(known: ct-rate, head-ct, /,
    );
    const card = await taskCard('ct-rate');
    card.labels.pop();
    expect((await taskCard('ct-rate')).labels).toHaveLength(18);
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      files: string[];
    };
    expect(pkg.files).toContain('assets');
    expect(TASK_CARDS_DIR.endsWith('/assets/tasks/')).toBe(true);
  });

  it('refuses to read a manifest against a template card', async () => {
    await expect(readManifest('/data/head.csv', await taskCard('head-ct'))).rejects.toThrow(
      '/data/head.csv: task card "head-ct" lists no labels: it is a template for data that is not public; copy it and list your labels',
    );
  });
});
