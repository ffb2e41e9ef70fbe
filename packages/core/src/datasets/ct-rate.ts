import { join } from 'node:path';
import type { TaskCard } from '../task/card.js';
import type { Manifest, ManifestCase, Split } from '../task/manifest.js';
import { InputError } from '../util/errors.js';
import { mapLimited } from '../util/map-limited.js';
import {
  checkCardFor,
  checkSplitOptions,
  kindOf,
  labelColumns,
  Problems,
  type SplitOptions,
  splitOf,
} from './common.js';
import { readCsv } from './csv.js';

export interface CtRateOptions {
  /**
   * The label tables (VolumeName + one 0/1 column per abnormality). Defaults:
   * `dataset/multi_abnormality_labels/train_predicted_labels.csv` and `valid_predicted_labels.csv`
   * (or `validation_…`); a default that is absent is skipped, a path given here must exist.
   */
  labels?: { train?: string; valid?: string };
  /** Read the corrected-metadata copies in `dataset/<split>_fixed/` (default false). */
  fixed?: boolean;
  /** Where CT-RATE's validation set goes: 'test' (default; CT-RATE has no public test set) or 'val'. */
  validAs?: 'test' | 'val';
  /** How the train patients are split (default val 0.1, test 0: the validation set is the test set). */
  split?: SplitOptions;
  /** Leave out volumes whose file is absent instead of failing (partial downloads; default false). */
  allowMissingImages?: boolean;
}

/** `train_2_a_1.nii.gz`: split prefix, patient, scan letter(s), reconstruction. */
const VOLUME = /^(train|valid|validation)_(\d+)_([a-z]+)_(\d+)\.nii(\.gz)?$/;

/** The dataset folder: `<root>/dataset` as on Hugging Face, or `root` itself when it holds the splits. */
async function datasetFolder(root: string): Promise<string> {
  if ((await kindOf(join(root, 'dataset'))) === 'folder') return join(root, 'dataset');
  for (const name of ['train', 'valid', 'validation', 'train_fixed', 'valid_fixed', 'multi_abnormality_labels']) {
    if ((await kindOf(join(root, name))) === 'folder') return root;
  }
  throw new InputError(root, 'not a CT-RATE download: no "dataset" folder, nor train/valid folders in it');
}

/**
 * The two CT-RATE releases: `v1` volumes (`<split>/`) store raw scanner values that need the
 * metadata CSV's RescaleSlope/RescaleIntercept; `v2` volumes (`<split>_fixed/`, corrected
 * metadata) are Hounsfield units already, and rescaling them again corrupts them (CT-CLIP#50).
 */
export type CtRateRelease = 'v1' | 'v2';

export interface CtRateLayout {
  /** The folder holding the splits (`<root>/dataset`, or `root` itself). */
  dataset: string;
  release: CtRateRelease;
  /** The split folders found for the release, e.g. `train_fixed`, `valid_fixed`. */
  folders: string[];
  /** CT-RATE's metadata tables (VolumeName, RescaleSlope, RescaleIntercept, …) that exist. */
  metadata: string[];
}

/**
 * Which release a CT-RATE download holds, from its split folders. A download with both (or
 * one split of each) is refused unless `release` says which to read, since reading v2 volumes
 * as v1 would rescale HU twice and the reverse would feed raw values as HU.
 */
export async function ctRateLayout(root: string, release?: CtRateRelease): Promise<CtRateLayout> {
  const dataset = await datasetFolder(root);
  const present = async (names: string[]) => {
    const found: string[] = [];
    for (const n of names) if ((await kindOf(join(dataset, n))) === 'folder') found.push(n);
    return found;
  };
  const v1 = await present(['train', 'valid', 'validation']);
  const v2 = await present(['train_fixed', 'valid_fixed', 'validation_fixed']);
  let chosen: CtRateRelease;
  if (release !== undefined) chosen = release;
  else if (v1.length > 0 && v2.length > 0)
    throw new InputError(
      dataset,
      `both CT-RATE releases are here (v1: ${v1.join(', ')}; v2, already in HU: ${v2.join(', ')}); ` +
        'say which to read (v2 recommended)',
    );
  else chosen = v2.length > 0 ? 'v2' : 'v1';
  const folders = chosen === 'v2' ? v2 : v1;
  if (folders.length === 0)
    throw new InputError(
      dataset,
      `no ${chosen} split folders (${chosen === 'v2' ? 'train_fixed/, valid_fixed/' : 'train/, valid/'})`,
    );
  const metadataDir = join(dataset, 'metadata');
  const metadata: string[] = [];
  for (const n of ['train_metadata.csv', 'validation_metadata.csv', 'valid_metadata.csv']) {
    if ((await kindOf(join(metadataDir, n))) === 'file') metadata.push(join(metadataDir, n));
  }
  return { dataset, release: chosen, folders, metadata };
}

async function firstFile(paths: string[]): Promise<string | null> {
  for (const p of paths) if ((await kindOf(p)) === 'file') return p;
  return null;
}

/**
 * Reads CT-RATE (non-contrast chest CT, 18 abnormality labels) into a manifest: one case per
 * volume (id = VolumeName without extension), image at
 * `dataset/<split>/<split>_<patient>/<split>_<patient>_<scan>/<VolumeName>`, labels from the
 * label tables by the card's label names (which must be columns of the tables). The validation
 * set's mixed `valid`/`validation` prefixes are accepted in folder and file names. Train patients
 * are split into train/val by patient; the validation set becomes test (or val). Malformed rows
 * (bad VolumeName, a label other than 0/1, a repeated volume) and missing volumes are reported
 * together, naming the file and line.
 */
export async function readCtRate(root: string, card: TaskCard, options: CtRateOptions = {}): Promise<Manifest> {
  const dataset = await datasetFolder(root);
  const labelsDir = join(dataset, 'multi_abnormality_labels');
  const tables: { part: 'train' | 'valid'; path: string }[] = [];
  for (const part of ['train', 'valid'] as const) {
    const given = options.labels?.[part];
    const path =
      given ??
      (await firstFile(
        part === 'train'
          ? [join(labelsDir, 'train_predicted_labels.csv')]
          : [join(labelsDir, 'valid_predicted_labels.csv'), join(labelsDir, 'validation_predicted_labels.csv')],
      ));
    if (path !== null) tables.push({ part, path });
  }
  if (tables.length === 0)
    throw new InputError(labelsDir, 'no CT-RATE label table found (train_/valid_predicted_labels.csv)');
  const source = tables[0]!.path;
  checkCardFor('ct-rate', card, source);
  const split = checkSplitOptions(source, { val: 0.1, test: 0, ...options.split });
  const validAs: Split = options.validAs ?? 'test';
  const columns = labelColumns(card);
  const suffix = options.fixed ? '_fixed' : '';

  const cases: ManifestCase[] = [];
  const problems = new Problems(source);
  const seen = new Map<string, string>();
  for (const { part, path } of tables) {
    const table = await readCsv(path);
    const header = table.header;
    const missing = ['VolumeName', ...columns.flat()].filter((c) => !header.includes(c));
    if (missing.length > 0) {
      throw new InputError(path, `the header has no ${missing.map((c) => `"${c}"`).join(', ')} column(s)`);
    }
    const name = header.indexOf('VolumeName');
    const index = columns.map((list) => list.map((c) => header.indexOf(c)));
    // The validation folder goes by either name; the folders inside it follow the volume names.
    let folder = join(dataset, `${part}${suffix}`);
    if (part === 'valid') {
      for (const candidate of [`valid${suffix}`, `validation${suffix}`]) {
        if ((await kindOf(join(dataset, candidate))) === 'folder') {
          folder = join(dataset, candidate);
          break;
        }
      }
    }
    const rows = table.rows.map((row, r) => {
      // problems are reported under the first table's name; rows of the other table name theirs
      const where = path === source ? `line ${table.lines[r]}` : `${path}: line ${table.lines[r]}`;
      const volume = row[name]!.trim();
      const m = VOLUME.exec(volume);
      if (m === null) {
        problems.add(
          `${where}: VolumeName ${JSON.stringify(volume)} is not <split>_<patient>_<scan>_<reconstruction>.nii.gz`,
        );
        return null;
      }
      const [, prefix, patient, scan] = m as unknown as [string, string, string, string];
      if ((part === 'train') !== (prefix === 'train')) {
        problems.add(`${where}: volume "${volume}" does not belong in the ${part} table`);
        return null;
      }
      const id = volume.replace(/\.nii(\.gz)?$/, '');
      if (seen.has(id)) {
        problems.add(`${where}: volume "${id}" was already listed (${seen.get(id)})`);
        return null;
      }
      seen.set(id, where);
      const labels = new Uint8Array(columns.length);
      let ok = true;
      index.forEach((list, k) => {
        for (const c of list) {
          const v = row[c]!.trim();
          if (v !== '0' && v !== '1') {
            problems.add(`${where} (volume "${id}"): "${header[c]}" must be 0 or 1, got ${JSON.stringify(v)}`);
            ok = false;
          } else if (v === '1') labels[k] = 1;
        }
      });
      if (!ok) return null;
      const image = join(folder, `${prefix}_${patient}`, `${prefix}_${patient}_${scan}`, volume);
      const group = `${part}_${patient}`;
      return { where, id, image, labels, group };
    });
    const present = await mapLimited(rows, 64, async (r) => (r === null ? false : (await kindOf(r.image)) === 'file'));
    rows.forEach((r, i) => {
      if (r === null) return;
      if (!present[i]) {
        if (!options.allowMissingImages) problems.add(`${r.where} (volume "${r.id}"): image not found: ${r.image}`);
        return;
      }
      cases.push({
        id: r.id,
        split: part === 'valid' ? validAs : splitOf(r.group, split),
        images: card.views.map(() => r.image),
        mask: null,
        labels: r.labels,
        classIndex: card.kind === 'multiclass' ? r.labels.indexOf(1) : null,
      });
    });
  }
  problems.throwIfAny();
  return { source, card, cases };
}
