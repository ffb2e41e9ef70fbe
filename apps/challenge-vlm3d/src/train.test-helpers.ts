import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeVolume } from '@anymc3d/core/volume';
import { CT_RATE_LABELS } from './labels.js';
import { chestVolume, rawVolume } from './run.test-helpers.js';

/**
 * Hugging Face's CT-RATE layout with 20 train patients and 3 validation volumes of tiny chests.
 * `v1` (default): `train/`, `valid/` volumes in HU. `v1-raw`: the first release as stored, raw
 * values (HU + 1024, uint16) with `metadata/*_metadata.csv` giving slope 1, intercept −1024.
 * `v2`: the `_fixed` folders, in HU.
 */
export async function ctRateReplica(dir: string, release: 'v1' | 'v1-raw' | 'v2' = 'v1'): Promise<{ valid: string[] }> {
  const dataset = join(dir, 'dataset');
  await mkdir(join(dataset, 'multi_abnormality_labels'), { recursive: true });
  const parts = {
    train: Array.from({ length: 20 }, (_, p) => `train_${p + 1}_a_1`),
    valid: ['valid_1_a_1', 'valid_2_a_1', 'valid_2_a_2'],
  };
  let seed = 0;
  const suffix = release === 'v2' ? '_fixed' : '';
  for (const [part, volumes] of Object.entries(parts)) {
    const lines = [['VolumeName', ...CT_RATE_LABELS].join(',')];
    const metadata = ['VolumeName,RescaleSlope,RescaleIntercept'];
    for (const v of volumes) {
      const [split, patient, scan] = v.split('_');
      const folder = join(dataset, `${part}${suffix}`, `${split}_${patient}`, `${split}_${patient}_${scan}`);
      await mkdir(folder, { recursive: true });
      const chest = chestVolume(seed + 1);
      await writeVolume(release === 'v1-raw' ? rawVolume(chest) : chest, join(folder, `${v}.nii.gz`));
      metadata.push(`${v}.nii.gz,1,-1024`);
      // The label follows the chest's shape (seed % 3 moves the body) for half the labels.
      lines.push(
        [`${v}.nii.gz`, ...CT_RATE_LABELS.map((_, l) => ((l % 2 ? seed % 3 === 0 : (seed + l) % 2) ? 1 : 0))].join(','),
      );
      seed++;
    }
    await writeFile(join(dataset, 'multi_abnormality_labels', `${part}_predicted_labels.csv`), `${lines.join('\n')}\n`);
    if (release === 'v1-raw') {
      await mkdir(join(dataset, 'metadata'), { recursive: true });
      const name = part === 'train' ? 'train_metadata.csv' : 'validation_metadata.csv';
      await writeFile(join(dataset, 'metadata', name), `${metadata.join('\n')}\n`);
    }
  }
  return { valid: parts.valid };
}

/** CT-RATE's validation volumes `valid` copied flat into `dir`, as `vlm3d run` reads its input. */
export async function flatInput(ctRate: string, valid: readonly string[], dir: string): Promise<string> {
  await mkdir(dir);
  for (const v of valid) {
    const [split, patient, scan] = v.split('_');
    const from = join(ctRate, 'dataset', 'valid', `${split}_${patient}`, `${split}_${patient}_${scan}`, `${v}.nii.gz`);
    await writeFile(join(dir, `${v}.nii.gz`), await readFile(from));
  }
  return dir;
}
