import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { TaskCard } from '../task/card.js';
import type { Manifest, ManifestCase } from '../task/manifest.js';
import { InputError } from '../util/errors.js';
import { checkCardFor, checkSplitOptions, kindOf, Problems, type SplitOptions, splitOf } from './common.js';
import { readCsv } from './csv.js';

export interface PanoramaOptions {
  /**
   * The case table of the PANORAMA labels repository (DIAGNijmegen/panorama_labels,
   * `clinical_information`), saved as CSV: columns PANORAMA_patient_id, PANORAMA_study_id and
   * label ("PDAC" or "non-PDAC"); other columns are ignored.
   */
  labels: string;
  /**
   * Folders of label masks named `<study_id>.nii.gz`, looked up in order (e.g. the labels
   * repository's `manual_labels` then `automatic_labels`). In these masks 1 is the PDAC lesion
   * (2 veins, 3 arteries, 4 pancreas, 5 pancreatic duct, 6 common bile duct).
   */
  masks?: string[];
  /** How patients are split (the public set has no official split). */
  split?: SplitOptions;
  /**
   * Leave out cases whose image is not in the folder instead of failing (the images come in
   * four Zenodo batches; default false).
   */
  allowMissingImages?: boolean;
}

const IMAGE = /^(.+)_0000\.nii\.gz$/;
const VALUES: Record<string, number> = { PDAC: 1, 'non-PDAC': 0 };

/** `<study_id>_0000.nii.gz` → path, searched through the folder and its subfolders (one per batch). */
async function indexImages(folder: string, problems: Problems): Promise<Map<string, string>> {
  let names: string[];
  try {
    names = await readdir(folder, { recursive: true });
  } catch (error) {
    throw new InputError(folder, 'cannot read the PANORAMA image folder', { cause: error });
  }
  const byStudy = new Map<string, string>();
  for (const name of names.sort()) {
    const m = IMAGE.exec(basename(name));
    if (m === null) continue;
    const path = join(folder, name);
    const earlier = byStudy.get(m[1]!);
    if (earlier !== undefined) problems.add(`study "${m[1]}" has two images: ${earlier} and ${path}`);
    else byStudy.set(m[1]!, path);
  }
  return byStudy;
}

/**
 * Reads the PANORAMA public training set (PDAC detection on contrast-enhanced CT) into a
 * manifest: one case per study, image `<images>/**\/<patient>_<study>_0000.nii.gz`, label 1 for
 * "PDAC" and 0 for "non-PDAC" from the labels table, mask from the first mask folder that has
 * `<study_id>.nii.gz`. The card must have the single label the table's value maps to ("PDAC").
 * Splits are by patient. Malformed rows (empty ids, a study id not of the patient, an unknown
 * label value, a repeated study) and missing images are reported together, naming file and line.
 */
export async function readPanorama(images: string, card: TaskCard, options: PanoramaOptions): Promise<Manifest> {
  const source = options.labels;
  checkCardFor('panorama', card, source);
  if (card.kind !== 'binary')
    throw new InputError(source, `PANORAMA gives one binary label; card "${card.id}" is ${card.kind}`);
  const split = checkSplitOptions(source, options.split);
  const table = await readCsv(source);
  const problems = new Problems(source);
  const columns = ['PANORAMA_patient_id', 'PANORAMA_study_id', 'label'];
  for (const name of columns) if (!table.header.includes(name)) problems.add(`the header has no "${name}" column`);
  problems.throwIfAny();
  const [p, s, l] = columns.map((name) => table.header.indexOf(name)) as [number, number, number];

  const found = await indexImages(images, problems);
  const maskFolders = options.masks ?? [];
  for (const folder of maskFolders) {
    if ((await kindOf(folder)) !== 'folder') problems.add(`the mask folder ${folder} is missing`);
  }
  problems.throwIfAny();

  const seen = new Map<string, number>();
  const cases: ManifestCase[] = [];
  for (const [r, row] of table.rows.entries()) {
    const line = table.lines[r]!;
    const patient = row[p]!.trim();
    const study = row[s]!.trim();
    const value = row[l]!.trim();
    if (patient === '' || study === '') {
      problems.add(`line ${line}: PANORAMA_patient_id and PANORAMA_study_id must not be empty`);
      continue;
    }
    const where = `line ${line} (study "${study}")`;
    if (!study.startsWith(`${patient}_`)) {
      problems.add(`${where}: the study id does not begin with its patient id "${patient}_"`);
      continue;
    }
    if (seen.has(study)) {
      problems.add(`${where}: the study was already listed on line ${seen.get(study)}`);
      continue;
    }
    seen.set(study, line);
    const label = VALUES[value];
    if (label === undefined) {
      problems.add(`${where}: label must be "PDAC" or "non-PDAC", got ${JSON.stringify(value)}`);
      continue;
    }
    const image = found.get(study);
    if (image === undefined) {
      if (!options.allowMissingImages) problems.add(`${where}: no image ${study}_0000.nii.gz under ${images}`);
      continue;
    }
    let mask: string | null = null;
    for (const folder of maskFolders) {
      const path = join(folder, `${study}.nii.gz`);
      if ((await kindOf(path)) === 'file') {
        mask = path;
        break;
      }
    }
    cases.push({
      id: study,
      split: splitOf(patient, split),
      images: card.views.map(() => image),
      mask,
      labels: Uint8Array.of(label),
      classIndex: null,
    });
  }
  if (table.rows.length === 0) problems.add('the labels table lists no studies');
  problems.throwIfAny();
  return { source, card, cases };
}
