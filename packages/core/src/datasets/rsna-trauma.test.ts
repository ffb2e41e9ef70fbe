import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskCard } from '../task/card.js';
import { taskCard } from '../task/catalogue.js';
import { readManifest } from '../task/manifest.js';
import { readCaseImage } from './image.js';
import { readRsnaTrauma } from './rsna-trauma.js';
import { writeManifestCsv } from './write.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/datasets/', import.meta.url));

const HEADER =
  'patient_id,bowel_healthy,bowel_injury,extravasation_healthy,extravasation_injury,kidney_healthy,kidney_low,kidney_high,liver_healthy,liver_low,liver_high,spleen_healthy,spleen_low,spleen_high,any_injury';
// patient → its row after patient_id: bowel, extravasation, kidney, liver, spleen, any_injury
const ROWS: Record<string, string> = {
  '10004': '1,0,0,1,0,1,0,0,1,0,1,0,0,1',
  '10005': '1,0,1,0,1,0,0,1,0,0,1,0,0,0',
  '10007': '0,1,1,0,1,0,0,0,0,1,0,0,1,1',
  '10008': '1,0,1,0,0,0,1,1,0,0,1,0,0,1',
};
const SERIES: Record<string, string[]> = {
  '10004': ['21057', '51033'],
  '10005': ['18667'],
  '10007': ['47578'],
  '10008': ['6294'],
};

let root: string;

/** Kaggle's layout: train.csv, train_series_meta.csv, train_images/<patient>/<series>/<n>.dcm, segmentations/. */
async function replica(rows: Record<string, string> = ROWS, meta = true): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'anymc3d-rsna-'));
  await writeFile(
    join(dir, 'train.csv'),
    `${HEADER}\n${Object.entries(rows)
      .map(([p, r]) => `${p},${r}`)
      .join('\n')}\n`,
  );
  const metaRows = ['patient_id,series_id,aortic_hu,incomplete_organ'];
  for (const [patient, list] of Object.entries(SERIES)) {
    for (const series of list) {
      const folder = join(dir, 'train_images', patient, series);
      await mkdir(folder, { recursive: true });
      for (const n of ['1', '2']) await copyFile(join(FIXTURES, 'series', `${n}.dcm`), join(folder, `${n}.dcm`));
      metaRows.push(`${patient},${series},${series === '18667' ? 311 : 140}.0,${series === '51033' ? 'True' : 0}`);
    }
  }
  if (meta) await writeFile(join(dir, 'train_series_meta.csv'), `${metaRows.join('\n')}\n`);
  await mkdir(join(dir, 'segmentations'));
  await writeFile(join(dir, 'segmentations', '21057.nii'), '');
  return dir;
}

const message = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
};

describe('readRsnaTrauma', () => {
  let liver: TaskCard;
  let bowel: TaskCard;
  beforeAll(async () => {
    root = await replica();
    liver = await taskCard('rsna-liver');
    bowel = await taskCard('rsna-bowel');
  });

  it('gives one case per series with its patient labels, organ masks on request', async () => {
    expect((await readRsnaTrauma(root, liver)).cases.every((c) => c.mask === null)).toBe(true);
    const m = await readRsnaTrauma(root, liver, { organMasks: true });
    expect(m.source).toBe(join(root, 'train.csv'));
    expect(m.cases.map((c) => c.id)).toEqual([
      '10004_21057',
      '10004_51033',
      '10005_18667',
      '10007_47578',
      '10008_6294',
    ]);
    // liver injury = liver_low (patient 10004) or liver_high (10007)
    expect(m.cases.map((c) => c.labels[0])).toEqual([1, 1, 0, 1, 0]);
    expect(m.cases[0]!.images).toEqual([join(root, 'train_images', '10004', '21057')]);
    expect(m.cases[0]!.mask).toBe(join(root, 'segmentations', '21057.nii'));
    expect(m.cases[1]!.mask).toBeNull();
    const b = await readRsnaTrauma(root, bowel);
    expect(b.cases.map((c) => c.labels[0])).toEqual([0, 0, 0, 1, 0]);
    const extravasation = await readRsnaTrauma(root, await taskCard('rsna-extravasation'));
    expect(extravasation.cases.map((c) => c.labels[0])).toEqual([1, 1, 0, 0, 0]);
  });

  it('keeps all series of a patient in one split, and the split does not depend on row order', async () => {
    const m = await readRsnaTrauma(root, liver, { split: { val: 0.3, test: 0.3, seed: 7 } });
    expect(m.cases[0]!.split).toBe(m.cases[1]!.split);
    const reversed = Object.fromEntries(Object.entries(ROWS).reverse());
    const again = await readRsnaTrauma(await replica(reversed), liver, { split: { val: 0.3, test: 0.3, seed: 7 } });
    const splitOf = (cases: typeof m.cases) => Object.fromEntries(cases.map((c) => [c.id, c.split]));
    expect(splitOf(again.cases)).toEqual(splitOf(m.cases));
  });

  it('leaves out incomplete series on request and lists series folders without the meta table', async () => {
    const m = await readRsnaTrauma(root, liver, { excludeIncompleteOrgan: true });
    expect(m.cases.map((c) => c.id)).not.toContain('10004_51033');
    const bare = await replica(ROWS, false);
    expect((await readRsnaTrauma(bare, liver)).cases).toHaveLength(5);
    await expect(readRsnaTrauma(bare, liver, { excludeIncompleteOrgan: true })).rejects.toThrow(
      /excludeIncompleteOrgan needs .*train_series_meta\.csv/,
    );
  });

  it('names the file, line and patient of a malformed row', async () => {
    const rows = { ...ROWS, '10005': '1,0,1,0,1,0,0,1,1,0,1,0,0,0', '10008': '1,0,1,0,0,0,1,x,0,0,1,0,0,1' };
    const text = await message(readRsnaTrauma(await replica(rows), liver));
    expect(text).toMatch(/^\/.*train\.csv: /);
    expect(text).toContain(
      `line 3 (patient "10005"): liver_healthy, liver_low, liver_high must be 0/1 with exactly one 1, got 1, 1, 0`,
    );
    expect(text).toContain(
      'line 5 (patient "10008"): liver_healthy, liver_low, liver_high must be 0/1 with exactly one 1, got x, 0, 0',
    );
    // the bowel task does not read the liver columns, so the same rows are fine for it
    await expect(readRsnaTrauma(await replica(rows), bowel)).resolves.toBeDefined();
  });

  it('names a short row, a missing column and a missing or empty series folder', async () => {
    const short = await replica({ ...ROWS, '10005': '1,0,1' });
    await expect(readRsnaTrauma(short, liver)).rejects.toThrow(/train\.csv: line 3: 4 fields, but the header has 15/);
    const dir = await replica();
    await writeFile(join(dir, 'train.csv'), 'patient_id,liver_healthy,liver_low\n10004,1,0\n');
    await expect(readRsnaTrauma(dir, liver)).rejects.toThrow(/the header has no "liver_high" column/);
    const gone = await replica();
    await writeFile(join(gone, 'train_images', '10007', '47578', '1.dcm'), '');
    const { rm } = await import('node:fs/promises');
    await rm(join(gone, 'train_images', '10005'), { recursive: true });
    await rm(join(gone, 'train_images', '10007', '47578', '2.dcm'));
    await rm(join(gone, 'train_images', '10007', '47578', '1.dcm'));
    const text = await message(readRsnaTrauma(gone, liver));
    expect(text).toContain(`series folder not found: ${join(gone, 'train_images', '10005', '18667')}`);
    expect(text).toContain(`series folder holds no .dcm files: ${join(gone, 'train_images', '10007', '47578')}`);
  });

  it('names malformed rows of the series table', async () => {
    const dir = await replica();
    const meta = join(dir, 'train_series_meta.csv');
    const text = await readFile(meta, 'utf8');
    await writeFile(meta, `${text}10009,777,150.0,0\n10008,6294,150.0,0\n10007,47579,150.0,maybe\n`);
    const error = await message(readRsnaTrauma(dir, liver));
    expect(error).toContain(`${meta}: line 7: patient "10009" is not in train.csv`);
    expect(error).toContain(`${meta}: line 8: series "6294" is listed twice`);
    expect(error).toContain(`${meta}: line 9: incomplete_organ must be 0 or 1, got "maybe"`);
  });

  it('refuses a card of another reader and a template card', async () => {
    await expect(readRsnaTrauma(root, await taskCard('ct-rate'))).rejects.toThrow(/read by the "ct-rate" reader/);
    await expect(readRsnaTrauma(root, await taskCard('head-ct'))).rejects.toThrow(/lists no labels: it is a template/);
  });

  it('writes a manifest that readManifest reads back, and each series reads as the DICOM volume', async () => {
    const m = await readRsnaTrauma(root, liver, { split: { val: 0.4, test: 0.2 }, organMasks: true });
    const out = join(root, 'manifests', 'liver.csv');
    await writeManifestCsv(m, out);
    const back = await readManifest(out, liver, { requireSplits: [] });
    expect(back.cases.map((c) => [c.id, c.split, c.images, c.mask, Array.from(c.labels)])).toEqual(
      m.cases.map((c) => [c.id, c.split, c.images, c.mask, Array.from(c.labels)]),
    );
    const volume = await readCaseImage(m.cases[0]!.images[0]!, { in: 'thread' });
    const reference = JSON.parse(await readFile(join(FIXTURES, 'reference.json'), 'utf8')) as {
      series_hu: number[][][];
    };
    expect([...volume.size]).toEqual([4, 3, 2]);
    expect(Array.from(volume.data, Number)).toEqual(reference.series_hu.flat(2));
  });
});
