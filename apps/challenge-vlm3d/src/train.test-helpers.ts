import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeVolume } from '@anymc3d/core/volume';
import { CT_RATE_LABELS } from './labels.js';
import { chestVolume } from './run.test-helpers.js';

/** Hugging Face's CT-RATE layout with 20 train patients and 3 validation volumes of tiny chests. */
export async function ctRateReplica(dir: string): Promise<{ valid: string[] }> {
  const dataset = join(dir, 'dataset');
  await mkdir(join(dataset, 'multi_abnormality_labels'), { recursive: true });
  const parts = {
    train: Array.from({ length: 20 }, (_, p) => `train_${p + 1}_a_1`),
    valid: ['valid_1_a_1', 'valid_2_a_1', 'valid_2_a_2'],
  };
  let seed = 0;
  for (const [part, volumes] of Object.entries(parts)) {
    const lines = [['VolumeName', ...CT_RATE_LABELS].join(',')];
    for (const v of volumes) {
      const [split, patient, scan] = v.split('_');
      const folder = join(dataset, part, `${split}_${patient}`, `${split}_${patient}_${scan}`);
      await mkdir(folder, { recursive: true });
      await writeVolume(chestVolume(seed + 1), join(folder, `${v}.nii.gz`));
      // The label follows the chest's shape (seed % 3 moves the body) for half the labels.
      lines.push(
        [`${v}.nii.gz`, ...CT_RATE_LABELS.map((_, l) => ((l % 2 ? seed % 3 === 0 : (seed + l) % 2) ? 1 : 0))].join(','),
      );
      seed++;
    }
    await writeFile(join(dataset, 'multi_abnormality_labels', `${part}_predicted_labels.csv`), `${lines.join('\n')}\n`);
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
