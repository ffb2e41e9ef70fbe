import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskCard } from '../task/card.js';
import { taskCard } from '../task/catalogue.js';
import { readManifest } from '../task/manifest.js';
import { readCtRate } from './ct-rate.js';
import { writeManifestCsv } from './write.js';

/** The 18 labels as the VLM3D app spells them (read from its source: core must not import an app). */
async function appLabels(): Promise<string[]> {
  const path = fileURLToPath(new URL('../../../../apps/challenge-vlm3d/src/labels.ts', import.meta.url));
  const text = await readFile(path, 'utf8');
  const list = text.slice(text.indexOf('CT_RATE_LABELS = ['), text.indexOf('] as const'));
  return [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

/** 18 0/1 values from a seed, so each volume has its own label pattern. */
const pattern = (seed: number) => Array.from({ length: 18 }, (_, k) => ((seed * 7 + k * 5) % 3 === 0 ? 1 : 0));

const VOLUMES = {
  train: ['train_1_a_1', 'train_1_a_2', 'train_2_a_1', 'train_3_b_1', 'train_3_b_2'],
  valid: ['valid_1_a_1', 'valid_2_a_1', 'valid_2_a_2'],
};

/**
 * Hugging Face's layout: dataset/<split>/<split>_<patient>/<split>_<patient>_<scan>/<volume>.nii.gz
 * and dataset/multi_abnormality_labels/{train,valid}_predicted_labels.csv.
 */
async function replica(labels: string[], edit: (part: string, lines: string[]) => string[] = (_, l) => l) {
  const root = await mkdtemp(join(tmpdir(), 'anymc3d-ctrate-'));
  const dataset = join(root, 'dataset');
  await mkdir(join(dataset, 'multi_abnormality_labels'), { recursive: true });
  let seed = 0;
  for (const [part, volumes] of Object.entries(VOLUMES)) {
    const lines = [['VolumeName', ...labels].map((l) => (l.includes(',') ? `"${l}"` : l)).join(',')];
    for (const v of volumes) {
      const [split, patient, scan] = v.split('_');
      const folder = join(dataset, part, `${split}_${patient}`, `${split}_${patient}_${scan}`);
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, `${v}.nii.gz`), '');
      lines.push([`${v}.nii.gz`, ...pattern(seed++).slice(0, labels.length)].join(','));
    }
    await writeFile(
      join(dataset, 'multi_abnormality_labels', `${part}_predicted_labels.csv`),
      `${edit(part, lines).join('\n')}\n`,
    );
  }
  return root;
}

describe('readCtRate', () => {
  let card: TaskCard;
  let root: string;
  beforeAll(async () => {
    card = await taskCard('ct-rate');
    root = await replica(card.labels);
  });

  it('the card lists the 18 labels exactly as the VLM3D scorer does', async () => {
    expect(card.labels).toEqual(await appLabels());
  });

  it('gives one case per volume: labels by column name, train split by patient, validation as test', async () => {
    const m = await readCtRate(root, card, { split: { val: 0.5, seed: 3 } });
    expect(m.cases.map((c) => c.id)).toEqual([...VOLUMES.train, ...VOLUMES.valid]);
    expect(m.cases.map((c) => Array.from(c.labels))).toEqual(m.cases.map((_, i) => pattern(i)));
    expect(m.cases[3]!.images).toEqual([join(root, 'dataset', 'train', 'train_3', 'train_3_b', 'train_3_b_1.nii.gz')]);
    const split = Object.fromEntries(m.cases.map((c) => [c.id, c.split]));
    expect(split.train_1_a_1).toBe(split.train_1_a_2);
    expect(split.train_3_b_1).toBe(split.train_3_b_2);
    expect(m.cases.filter((c) => c.id.startsWith('train')).every((c) => c.split !== 'test')).toBe(true);
    expect(m.cases.filter((c) => c.id.startsWith('valid')).map((c) => c.split)).toEqual(['test', 'test', 'test']);
    const asVal = await readCtRate(root, card, { validAs: 'val' });
    expect(asVal.cases.filter((c) => c.id.startsWith('valid')).map((c) => c.split)).toEqual(['val', 'val', 'val']);
  });

  it('reads label columns in any order, the validation set under either prefix, and the _fixed copies', async () => {
    const shuffled = [...card.labels].reverse();
    const other = await replica(shuffled);
    const m = await readCtRate(other, card);
    // the file's columns are reversed, so each case's labels are its pattern reversed
    expect(m.cases.map((c) => Array.from(c.labels))).toEqual(m.cases.map((_, i) => pattern(i).reverse()));
    const d = join(other, 'dataset');
    await rename(join(d, 'valid'), join(d, 'validation'));
    await rename(
      join(d, 'multi_abnormality_labels', 'valid_predicted_labels.csv'),
      join(d, 'multi_abnormality_labels', 'validation_predicted_labels.csv'),
    );
    const renamed = await readCtRate(join(other, 'dataset'), card);
    expect(renamed.cases.at(-1)!.images[0]).toBe(join(d, 'validation', 'valid_2', 'valid_2_a', 'valid_2_a_2.nii.gz'));
    await rename(join(d, 'train'), join(d, 'train_fixed'));
    await rename(join(d, 'validation'), join(d, 'valid_fixed'));
    await expect(readCtRate(other, card)).rejects.toThrow(/image not found/);
    const fixed = await readCtRate(other, card, { fixed: true });
    expect(fixed.cases[0]!.images[0]).toBe(join(d, 'train_fixed', 'train_1', 'train_1_a', 'train_1_a_1.nii.gz'));
    expect(fixed.cases.at(-1)!.images[0]).toBe(join(d, 'valid_fixed', 'valid_2', 'valid_2_a', 'valid_2_a_2.nii.gz'));
  });

  it('names the file, line and volume of malformed rows and missing volumes', async () => {
    const bad = await replica(card.labels, (part, lines) => {
      if (part !== 'train') return lines;
      const out = [...lines];
      out[2] = out[2]!.replace(/,0,/, ',2,'); // train_1_a_2: a label that is not 0/1
      out[3] = `train_2.nii.gz${out[3]!.slice(out[3]!.indexOf(','))}`; // a VolumeName of the wrong form
      out.push(out[1]!); // train_1_a_1 again
      out.push(`valid_9_a_1.nii.gz${out[1]!.slice(out[1]!.indexOf(','))}`); // a validation volume in the train table
      out.push(`train_8_a_1.nii.gz${out[1]!.slice(out[1]!.indexOf(','))}`); // no such file
      return out;
    });
    const table = join(bad, 'dataset', 'multi_abnormality_labels', 'train_predicted_labels.csv');
    const error = readCtRate(bad, card);
    await expect(error).rejects.toThrow(
      new RegExp(`^${table}: line 3 \\(volume "train_1_a_2"\\): "Medical material" must be 0 or 1, got "2"`),
    );
    await expect(error).rejects.toThrow(
      `line 4: VolumeName "train_2.nii.gz" is not <split>_<patient>_<scan>_<reconstruction>.nii.gz`,
    );
    await expect(error).rejects.toThrow('line 7: volume "train_1_a_1" was already listed (line 2)');
    await expect(error).rejects.toThrow(`line 8: volume "valid_9_a_1.nii.gz" does not belong in the train table`);
    await expect(error).rejects.toThrow(
      `line 9 (volume "train_8_a_1"): image not found: ${join(bad, 'dataset', 'train', 'train_8', 'train_8_a', 'train_8_a_1.nii.gz')}`,
    );
  });

  it('names a missing label column, and skips missing volumes only on request', async () => {
    const lacking = await replica(card.labels.slice(0, 17));
    await expect(readCtRate(lacking, card)).rejects.toThrow(
      /train_predicted_labels\.csv: the header has no "Interlobular septal thickening" column/,
    );
    const partial = await replica(card.labels);
    await rm(join(partial, 'dataset', 'valid', 'valid_2'), { recursive: true });
    await expect(readCtRate(partial, card)).rejects.toThrow(/volume "valid_2_a_1"\): image not found/);
    const m = await readCtRate(partial, card, { allowMissingImages: true });
    expect(m.cases.map((c) => c.id)).toEqual([...VOLUMES.train, 'valid_1_a_1']);
    await expect(readCtRate(join(partial, 'nothing'), card)).rejects.toThrow(/not a CT-RATE download/);
  });

  it('writes a manifest that readManifest reads back', async () => {
    const m = await readCtRate(root, card, { split: { val: 0.5 } });
    const out = join(root, 'ct-rate.csv');
    await writeManifestCsv(m, out);
    const back = await readManifest(out, card, { requireSplits: [] });
    expect(back.cases.map((c) => [c.id, c.split, c.images, Array.from(c.labels)])).toEqual(
      m.cases.map((c) => [c.id, c.split, c.images, Array.from(c.labels)]),
    );
  });
});
