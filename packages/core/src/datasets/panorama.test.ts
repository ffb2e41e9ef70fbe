import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskCard } from '../task/card.js';
import { taskCard } from '../task/catalogue.js';
import { readManifest } from '../task/manifest.js';
import { readPanorama } from './panorama.js';
import { writeManifestCsv } from './write.js';

const HEADER =
  'PANORAMA_patient_id,PANORAMA_study_id,anonymized_study_date,patient_age,patient_sex,scanner,label,level';
const ROWS = [
  '100000,100000_00001,2018-10-04,042Y,F,TOSHIBA,non-PDAC,radiology',
  '100001,100001_00001,2014-04-24,068Y,M,SIEMENS,non-PDAC,radiology',
  '100002,100002_00001,2021-03-02,077Y,F,TOSHIBA,PDAC,pathology',
  '100002,100002_00002,2021-09-13,077Y,F,TOSHIBA,PDAC,pathology',
  '100003,100003_00001,2019-01-20,061Y,M,PHILIPS,PDAC,cytology',
];

/**
 * The public layout: images `<patient>_<study>_0000.nii.gz` spread over batch folders, and the
 * labels repository's manual_labels/ and automatic_labels/ masks named `<study>.nii.gz`.
 */
async function replica(rows = ROWS): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'anymc3d-panorama-'));
  for (const [batch, studies] of [
    ['batch_1', ['100000_00001', '100001_00001']],
    ['batch_2', ['100002_00001', '100002_00002', '100003_00001']],
  ] as const) {
    await mkdir(join(dir, 'images', batch), { recursive: true });
    for (const s of studies) await writeFile(join(dir, 'images', batch, `${s}_0000.nii.gz`), '');
  }
  await mkdir(join(dir, 'panorama_labels', 'manual_labels'), { recursive: true });
  await mkdir(join(dir, 'panorama_labels', 'automatic_labels'));
  await writeFile(join(dir, 'panorama_labels', 'manual_labels', '100002_00001.nii.gz'), '');
  for (const s of ['100000_00001', '100002_00001', '100003_00001']) {
    await writeFile(join(dir, 'panorama_labels', 'automatic_labels', `${s}.nii.gz`), '');
  }
  await writeFile(join(dir, 'clinical_information.csv'), `${[HEADER, ...rows].join('\n')}\n`);
  return dir;
}

describe('readPanorama', () => {
  let card: TaskCard;
  let dir: string;
  const options = (d: string) => ({
    labels: join(d, 'clinical_information.csv'),
    masks: [join(d, 'panorama_labels', 'manual_labels'), join(d, 'panorama_labels', 'automatic_labels')],
  });
  beforeAll(async () => {
    card = await taskCard('panorama-pdac');
    dir = await replica();
  });

  it('gives one case per study with PDAC as 1, images from every batch folder and the first mask found', async () => {
    const m = await readPanorama(join(dir, 'images'), card, options(dir));
    expect(m.cases.map((c) => [c.id, c.labels[0]])).toEqual([
      ['100000_00001', 0],
      ['100001_00001', 0],
      ['100002_00001', 1],
      ['100002_00002', 1],
      ['100003_00001', 1],
    ]);
    expect(m.cases[2]!.images).toEqual([join(dir, 'images', 'batch_2', '100002_00001_0000.nii.gz')]);
    expect(m.cases.map((c) => c.mask)).toEqual([
      join(dir, 'panorama_labels', 'automatic_labels', '100000_00001.nii.gz'),
      null,
      join(dir, 'panorama_labels', 'manual_labels', '100002_00001.nii.gz'),
      null,
      join(dir, 'panorama_labels', 'automatic_labels', '100003_00001.nii.gz'),
    ]);
    // both studies of patient 100002 share a split, whatever the seed
    for (const seed of [0, 1, 2, 3, 4, 5]) {
      const s = await readPanorama(join(dir, 'images'), card, {
        ...options(dir),
        split: { val: 0.3, test: 0.3, seed },
      });
      expect(s.cases[2]!.split).toBe(s.cases[3]!.split);
    }
  });

  it('names the file, line and study of malformed rows and missing images', async () => {
    const bad = await replica([
      ROWS[0]!,
      '100001,100001_00001,2014-04-24,068Y,M,SIEMENS,maybe,radiology',
      '100002,100009_00001,2021-03-02,077Y,F,TOSHIBA,PDAC,pathology',
      ROWS[0]!,
      '100004,100004_00001,2020-01-01,050Y,M,GE,PDAC,pathology',
      ',100005_00001,2020-01-01,050Y,M,GE,PDAC,pathology',
    ]);
    const labels = join(bad, 'clinical_information.csv');
    const error = readPanorama(join(bad, 'images'), card, options(bad));
    await expect(error).rejects.toThrow(
      `${labels}: line 3 (study "100001_00001"): label must be "PDAC" or "non-PDAC", got "maybe"`,
    );
    await expect(error).rejects.toThrow(
      'line 4 (study "100009_00001"): the study id does not begin with its patient id "100002_"',
    );
    await expect(error).rejects.toThrow('line 5 (study "100000_00001"): the study was already listed on line 2');
    await expect(error).rejects.toThrow(
      `line 6 (study "100004_00001"): no image 100004_00001_0000.nii.gz under ${join(bad, 'images')}`,
    );
    await expect(error).rejects.toThrow('line 7: PANORAMA_patient_id and PANORAMA_study_id must not be empty');
    const short = await replica([...ROWS, '100004,100004_00001,PDAC']);
    await expect(readPanorama(join(short, 'images'), card, options(short))).rejects.toThrow(
      /clinical_information\.csv: line 7: 3 fields, but the header has 8/,
    );
  });

  it('leaves out cases without an image on request, and names a missing column or mask folder', async () => {
    const partial = await replica();
    await rm(join(partial, 'images', 'batch_2'), { recursive: true });
    await expect(readPanorama(join(partial, 'images'), card, options(partial))).rejects.toThrow(
      /no image 100002_00001/,
    );
    const m = await readPanorama(join(partial, 'images'), card, { ...options(partial), allowMissingImages: true });
    expect(m.cases.map((c) => c.id)).toEqual(['100000_00001', '100001_00001']);
    const noLabel = await replica();
    await writeFile(
      join(noLabel, 'clinical_information.csv'),
      'PANORAMA_patient_id,PANORAMA_study_id\n100000,100000_00001\n',
    );
    await expect(readPanorama(join(noLabel, 'images'), card, options(noLabel))).rejects.toThrow(
      /clinical_information\.csv: the header has no "label" column/,
    );
    await expect(
      readPanorama(join(dir, 'images'), card, { ...options(dir), masks: [join(dir, 'nowhere')] }),
    ).rejects.toThrow(`the mask folder ${join(dir, 'nowhere')} is missing`);
  });

  it('writes a manifest that readManifest reads back', async () => {
    const m = await readPanorama(join(dir, 'images'), card, { ...options(dir), split: { val: 0.4, test: 0.2 } });
    const out = join(dir, 'panorama.csv');
    await writeManifestCsv(m, out);
    const back = await readManifest(out, card, { requireSplits: [] });
    expect(back.cases.map((c) => [c.id, c.split, c.images, c.mask, Array.from(c.labels)])).toEqual(
      m.cases.map((c) => [c.id, c.split, c.images, c.mask, Array.from(c.labels)]),
    );
  });
});
