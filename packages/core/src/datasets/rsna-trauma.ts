import { join } from 'node:path';
import type { TaskCard } from '../task/card.js';
import type { Manifest, ManifestCase } from '../task/manifest.js';
import { mapLimited } from '../util/map-limited.js';
import {
  checkCardFor,
  checkSplitOptions,
  entriesOf,
  kindOf,
  labelColumns,
  Problems,
  type SplitOptions,
  splitOf,
} from './common.js';
import { type CsvTable, readCsv } from './csv.js';

/**
 * The one-hot column groups of RSNA 2023 Abdominal Trauma Detection's `train.csv`: per organ,
 * exactly one column is 1 (bowel and extravasation: healthy/injury; kidney, liver, spleen:
 * healthy/low/high grade).
 */
export const RSNA_TRAUMA_GROUPS: Readonly<Record<string, readonly string[]>> = {
  bowel: ['bowel_healthy', 'bowel_injury'],
  extravasation: ['extravasation_healthy', 'extravasation_injury'],
  kidney: ['kidney_healthy', 'kidney_low', 'kidney_high'],
  liver: ['liver_healthy', 'liver_low', 'liver_high'],
  spleen: ['spleen_healthy', 'spleen_low', 'spleen_high'],
};

export interface RsnaTraumaOptions {
  /** How patients are split (the competition's labels are public for train only). */
  split?: SplitOptions;
  /** Leave out series that `train_series_meta.csv` marks `incomplete_organ` = 1 (default false). */
  excludeIncompleteOrgan?: boolean;
  /** Check that every series folder holds .dcm files (default true). */
  checkFiles?: boolean;
  /**
   * Give each series that has one its `segmentations/<series_id>.nii[.gz]` as the case's mask
   * (default false). These are model-generated organ masks (liver, spleen, kidneys, bowel) for a
   * subset of series, not injury masks.
   */
  organMasks?: boolean;
}

const groupOf = (column: string) =>
  Object.entries(RSNA_TRAUMA_GROUPS).find(([, columns]) => columns.includes(column))?.[0];

/** incomplete_organ as pandas may write it. */
const FLAGS: Record<string, boolean> = { '0': false, '1': true, '0.0': false, '1.0': true, False: false, True: true };

interface Series {
  patient: string;
  series: string;
  incomplete: boolean;
}

/** Series per patient from `train_series_meta.csv`. */
function seriesFromMeta(
  meta: CsvTable,
  patients: Set<string>,
  needIncomplete: boolean,
  problems: Problems,
): Map<string, Series[]> {
  const bySeries = new Map<string, Series[]>();
  const col = (name: string) => meta.header.indexOf(name);
  const [p, s, inc] = [col('patient_id'), col('series_id'), col('incomplete_organ')];
  for (const [name, k] of [
    ['patient_id', p],
    ['series_id', s],
    ...(needIncomplete ? ([['incomplete_organ', inc]] as const) : []),
  ] as const) {
    if (k < 0) problems.add(`${meta.source}: the header has no "${name}" column`);
  }
  if (p < 0 || s < 0) return bySeries;
  const seen = new Set<string>();
  for (const [r, row] of meta.rows.entries()) {
    const where = `${meta.source}: line ${meta.lines[r]}`;
    const patient = row[p]!.trim();
    const series = row[s]!.trim();
    const flag = FLAGS[inc < 0 ? '0' : row[inc]!.trim()];
    if (patient === '' || series === '') {
      problems.add(`${where}: patient_id and series_id must not be empty`);
      continue;
    }
    if (!patients.has(patient)) {
      problems.add(`${where}: patient "${patient}" is not in train.csv`);
      continue;
    }
    if (seen.has(series)) {
      problems.add(`${where}: series "${series}" is listed twice`);
      continue;
    }
    if (flag === undefined) {
      problems.add(`${where}: incomplete_organ must be 0 or 1, got "${row[inc]!.trim()}"`);
      continue;
    }
    seen.add(series);
    const list = bySeries.get(patient) ?? [];
    list.push({ patient, series, incomplete: flag });
    bySeries.set(patient, list);
  }
  return bySeries;
}

/**
 * Reads RSNA 2023 Abdominal Trauma Detection as downloaded from Kaggle into a manifest for one
 * of its tasks: `<root>/train.csv` (patient_id, the one-hot organ columns, any_injury),
 * `<root>/train_images/<patient_id>/<series_id>/<instance>.dcm`, and when present
 * `<root>/train_series_meta.csv` (patient_id, series_id, aortic_hu, incomplete_organ) and, on
 * request, the organ masks `<root>/segmentations/<series_id>.nii[.gz]`.
 *
 * Labels are per patient, volumes per series: each series is one case (id
 * `<patient_id>_<series_id>`, image its DICOM folder) carrying its patient's labels, read through
 * the card's `data.labelColumns` (e.g. "liver injury" ← liver_low or liver_high). Every organ
 * group a label touches must be one-hot in every row. Splits are by patient (see `SplitOptions`).
 * All problems (malformed rows, missing or empty series folders) are reported together, each
 * naming the file and line or folder.
 */
export async function readRsnaTrauma(root: string, card: TaskCard, options: RsnaTraumaOptions = {}): Promise<Manifest> {
  const source = join(root, 'train.csv');
  checkCardFor('rsna-trauma', card, source);
  const split = checkSplitOptions(source, options.split);
  const table = await readCsv(source);
  const problems = new Problems(source);

  const columnsPerLabel = labelColumns(card);
  const used = [...new Set(columnsPerLabel.flat())];
  const groups = [...new Set(used.map(groupOf).filter((g): g is string => g !== undefined))];
  const needed = ['patient_id', ...new Set([...groups.flatMap((g) => RSNA_TRAUMA_GROUPS[g]!), ...used])];
  for (const name of needed) {
    if (!table.header.includes(name)) problems.add(`the header has no "${name}" column`);
  }
  problems.throwIfAny();
  const at = (row: string[], name: string) => row[table.header.indexOf(name)]!.trim();

  const patients = new Map<string, { labels: Uint8Array; line: number }>();
  const listed = new Set<string>();
  for (const [r, row] of table.rows.entries()) {
    const line = table.lines[r]!;
    const patient = at(row, 'patient_id');
    if (patient === '') {
      problems.add(`line ${line}: patient_id is empty`);
      continue;
    }
    const where = `line ${line} (patient "${patient}")`;
    listed.add(patient);
    if (patients.has(patient)) {
      problems.add(`${where}: the patient was already listed on line ${patients.get(patient)!.line}`);
      continue;
    }
    let ok = true;
    for (const group of groups) {
      const columns = RSNA_TRAUMA_GROUPS[group]!;
      const values = columns.map((c) => at(row, c));
      if (!values.every((v) => v === '0' || v === '1') || values.filter((v) => v === '1').length !== 1) {
        problems.add(`${where}: ${columns.join(', ')} must be 0/1 with exactly one 1, got ${values.join(', ')}`);
        ok = false;
      }
    }
    for (const column of used) {
      if (groupOf(column) !== undefined) continue;
      const v = at(row, column);
      if (v !== '0' && v !== '1') {
        problems.add(`${where}: ${column} must be 0 or 1, got "${v}"`);
        ok = false;
      }
    }
    if (!ok) continue;
    const labels = Uint8Array.from(columnsPerLabel, (columns) => (columns.some((c) => at(row, c) === '1') ? 1 : 0));
    patients.set(patient, { labels, line });
  }
  if (table.rows.length === 0) problems.add('train.csv lists no patients');

  const images = join(root, 'train_images');
  const metaPath = join(root, 'train_series_meta.csv');
  let series: Map<string, Series[]>;
  if ((await kindOf(metaPath)) === 'file') {
    series = seriesFromMeta(await readCsv(metaPath), listed, options.excludeIncompleteOrgan === true, problems);
  } else {
    if (options.excludeIncompleteOrgan) problems.add(`excludeIncompleteOrgan needs ${metaPath}, which is missing`);
    if ((await kindOf(images)) !== 'folder') problems.add(`the image folder ${images} is missing`);
    problems.throwIfAny();
    series = new Map();
    await mapLimited([...patients.keys()], 32, async (patient) => {
      const names = (await entriesOf(join(images, patient))) ?? [];
      series.set(
        patient,
        names.sort().map((s) => ({ patient, series: s, incomplete: false })),
      );
    });
  }
  for (const [patient, { line }] of patients) {
    if ((series.get(patient) ?? []).length === 0) {
      problems.add(`line ${line} (patient "${patient}"): no series found under ${join(images, patient)}`);
    }
  }
  problems.throwIfAny();

  const chosen = [...patients.keys()].flatMap((patient) =>
    (series.get(patient) ?? []).filter((s) => !(options.excludeIncompleteOrgan && s.incomplete)),
  );
  const cases = await mapLimited(chosen, 32, async (s): Promise<ManifestCase | null> => {
    const folder = join(images, s.patient, s.series);
    if (options.checkFiles !== false) {
      const names = await entriesOf(folder);
      if (names === null) {
        problems.add(`series folder not found: ${folder}`);
        return null;
      }
      if (!names.some((n) => n.toLowerCase().endsWith('.dcm'))) {
        problems.add(`series folder holds no .dcm files: ${folder}`);
        return null;
      }
    }
    let mask: string | null = null;
    for (const name of options.organMasks ? [`${s.series}.nii`, `${s.series}.nii.gz`] : []) {
      const path = join(root, 'segmentations', name);
      if ((await kindOf(path)) === 'file') mask = path;
    }
    const labels = patients.get(s.patient)!.labels;
    return {
      id: `${s.patient}_${s.series}`,
      split: splitOf(s.patient, split),
      images: card.views.map(() => folder),
      mask,
      labels: labels.slice(),
      classIndex: card.kind === 'multiclass' ? labels.indexOf(1) : null,
    };
  });
  problems.throwIfAny();
  return { source, card, cases: cases.filter((c): c is ManifestCase => c !== null) };
}
