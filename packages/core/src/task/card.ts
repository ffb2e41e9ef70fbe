import { readFile } from 'node:fs/promises';
import { InputError } from '../util/errors.js';
import type { MriNormalisation } from '../volume/intensity.js';
import { SLICE_AXES, type SliceAxis } from '../volume/views.js';

export { type MriNormalisation, SLICE_AXES, type SliceAxis };

export type TaskKind = 'multilabel' | 'multiclass' | 'binary';
export const TASK_KINDS: readonly TaskKind[] = ['multilabel', 'multiclass', 'binary'];
/** Spellings of cards written before the task card and the plugin spelled kinds alike; read as they meant. */
const LEGACY_KINDS: Record<string, TaskKind> = { 'multi-label': 'multilabel', 'multi-class': 'multiclass' };

export type TaskMetric = 'auroc' | 'ap' | 'f1' | 'accuracy' | 'balanced_accuracy' | 'crg';
export const TASK_METRICS: readonly TaskMetric[] = ['auroc', 'ap', 'f1', 'accuracy', 'balanced_accuracy', 'crg'];

export interface TaskView {
  /** Names the view in manifests (column `image_<name>`), so letters, digits, '_' and '-' only. */
  name: string;
  axis: SliceAxis;
}

/** Where a task's data comes from, under which terms, and how its own layout maps to the card. */
export interface TaskData {
  /** Where the data comes from (site, record, repository) and what the card's facts rest on. */
  source: string;
  licence: string;
  /** False for data the paper used that is not public: the card is then a template (see `TaskCard`). Default true. */
  public?: boolean;
  /** The reference to cite when using the data. */
  citation?: string;
  /** The dataset reader (in `@anymc3d/core/datasets`) that turns the data's own layout into a manifest. */
  reader?: string;
  /**
   * How the dataset's own columns give each card label: label → the source columns of which any
   * being 1 makes the label 1 (e.g. RSNA's `liver_low`, `liver_high` → "liver injury").
   * A label without an entry is read from the column of the same name.
   */
  labelColumns?: Record<string, string[]>;
}

/**
 * What a task is: its labels in order, how volumes become slices (views, CT windows or MRI
 * normalisation, input size), the metric it is judged by, and where its data comes from.
 * Exactly one of `windows` (CT, Hounsfield units, one per channel) and `normalisation` (MRI).
 *
 * A card for data that is not public (`data.public: false`) may list no labels: it is a template
 * that a user with such data copies and completes; a manifest cannot be read against it as is.
 */
export interface TaskCard {
  id: string;
  description: string;
  kind: TaskKind;
  labels: string[];
  views: TaskView[];
  windows?: [number, number][];
  normalisation?: MriNormalisation;
  inputSize: { height: number; width: number; slices: number };
  /**
   * The rest of the recipe a new plugin gets (flags override; plugin.json records what was used):
   * `intensity` "ct-hu" checks that voxels are CT in Hounsfield units (raw values need a rescale);
   * `orientation` (e.g. "LPS") and `spacing` (mm) put every volume on one canonical grid before
   * slicing; `slices` "fixed" resamples each view along its slice axis to inputSize.slices (the
   * paper's fixed S), "all" (default) keeps every slice.
   */
  intensity?: 'as-read' | 'ct-hu';
  orientation?: string;
  spacing?: [number, number, number];
  slices?: 'all' | 'fixed';
  /**
   * Which mask values count as the target of the auxiliary seg supervision (e.g. PANORAMA: [1], the
   * lesion, not the pancreas or vessels). Absent: every value above 0.
   */
  segLabels?: number[];
  metric: TaskMetric;
  data: TaskData;
  /** What on the card comes from the paper and what is this project's choice, where that matters. */
  notes?: string;
}

const VIEW_NAME = /^[A-Za-z0-9_-]+$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/**
 * Checks a parsed task card and returns it typed; every problem found is listed in one
 * InputError naming `source`, so a user fixes the card in one pass.
 */
export function validateTaskCard(value: unknown, source: string): TaskCard {
  if (!isObject(value)) throw new InputError(source, 'a task card must be a JSON object');
  const problems: string[] = [];
  const need = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const v =
    typeof value.kind === 'string' && LEGACY_KINDS[value.kind] ? { ...value, kind: LEGACY_KINDS[value.kind] } : value;
  need(isText(v.id), `"id" must be a non-empty string, got ${show(v.id)}`);
  need(isText(v.description), `"description" must be a non-empty string, got ${show(v.description)}`);
  need(TASK_KINDS.includes(v.kind as TaskKind), `"kind" must be one of ${TASK_KINDS.join(', ')}, got ${show(v.kind)}`);
  need(
    TASK_METRICS.includes(v.metric as TaskMetric),
    `"metric" must be one of ${TASK_METRICS.join(', ')}, got ${show(v.metric)}`,
  );

  const template = isObject(v.data) && v.data.public === false;
  if (!Array.isArray(v.labels) || (v.labels.length === 0 && !template)) {
    problems.push(`"labels" must be a non-empty list of label names, got ${show(v.labels)}`);
  } else {
    const seen = new Set<string>();
    v.labels.forEach((label, i) => {
      if (!isText(label)) problems.push(`labels[${i}] must be a non-empty string, got ${show(label)}`);
      else if (seen.has(label)) problems.push(`label "${label}" is listed twice`);
      else seen.add(label);
    });
    // An empty list is only reachable for a template card: its user names the labels.
    if (v.kind === 'binary' && v.labels.length > 1) {
      problems.push(`a binary task has exactly one label (the positive finding), got ${v.labels.length}`);
    }
    if (v.kind === 'multiclass' && v.labels.length === 1) {
      problems.push(`a multi-class task needs at least two classes, got ${v.labels.length}`);
    }
  }

  if (!Array.isArray(v.views) || v.views.length === 0) {
    problems.push(`"views" must be a non-empty list of {name, axis}, got ${show(v.views)}`);
  } else {
    const seen = new Set<string>();
    v.views.forEach((view, i) => {
      if (!isObject(view)) {
        problems.push(`views[${i}] must be an object {name, axis}, got ${show(view)}`);
        return;
      }
      if (typeof view.name !== 'string' || !VIEW_NAME.test(view.name)) {
        problems.push(`views[${i}].name must use only letters, digits, '_' and '-', got ${show(view.name)}`);
      } else if (seen.has(view.name)) problems.push(`view "${view.name}" is listed twice`);
      else seen.add(view.name);
      if (!SLICE_AXES.includes(view.axis as SliceAxis)) {
        problems.push(`views[${i}].axis must be one of ${SLICE_AXES.join(', ')}, got ${show(view.axis)}`);
      }
    });
  }

  const hasWindows = v.windows !== undefined;
  const hasNormalisation = v.normalisation !== undefined;
  if (hasWindows === hasNormalisation) {
    problems.push('give exactly one of "windows" (CT, [[lo, hi], …] in HU) and "normalisation" (MRI)');
  }
  if (hasWindows) {
    if (!Array.isArray(v.windows) || v.windows.length === 0) {
      problems.push(`"windows" must be a non-empty list of [lo, hi], got ${show(v.windows)}`);
    } else {
      v.windows.forEach((w, i) => {
        const ok =
          Array.isArray(w) &&
          w.length === 2 &&
          w.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
          (w[0] as number) < (w[1] as number);
        need(ok, `windows[${i}] must be [lo, hi] with lo < hi, got ${show(w)}`);
      });
    }
  }
  if (hasNormalisation) {
    const n = v.normalisation;
    const ok =
      isObject(n) &&
      (n.method === 'zscore' ||
        (n.method === 'percentile' &&
          Array.isArray(n.range) &&
          n.range.length === 2 &&
          n.range.every((x) => typeof x === 'number' && x >= 0 && x <= 100) &&
          (n.range[0] as number) < (n.range[1] as number)));
    need(
      ok,
      `"normalisation" must be {"method": "zscore"} or {"method": "percentile", "range": [lo, hi]} (0 ≤ lo < hi ≤ 100), got ${show(n)}`,
    );
  }

  need(
    v.intensity === undefined || v.intensity === 'as-read' || v.intensity === 'ct-hu',
    `"intensity" must be "as-read" or "ct-hu", got ${show(v.intensity)}`,
  );
  need(
    v.orientation === undefined || (typeof v.orientation === 'string' && /^[LRPASI]{3}$/i.test(v.orientation)),
    `"orientation" must be a three-letter code such as "LPS", got ${show(v.orientation)}`,
  );
  need(
    v.spacing === undefined ||
      (Array.isArray(v.spacing) && v.spacing.length === 3 && v.spacing.every((x) => typeof x === 'number' && x > 0)),
    `"spacing" must be three positive numbers (mm), got ${show(v.spacing)}`,
  );
  need(
    v.segLabels === undefined ||
      (Array.isArray(v.segLabels) &&
        v.segLabels.length > 0 &&
        v.segLabels.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)),
    `"segLabels" must be a non-empty list of mask values > 0, got ${show(v.segLabels)}`,
  );
  need(
    v.slices === undefined || v.slices === 'all' || v.slices === 'fixed',
    `"slices" must be "all" or "fixed", got ${show(v.slices)}`,
  );
  if (v.intensity === 'ct-hu' && hasNormalisation)
    problems.push('"intensity": "ct-hu" is for CT cards (windows), not MRI normalisation');

  const size = v.inputSize;
  if (!isObject(size)) problems.push(`"inputSize" must be {height, width, slices}, got ${show(size)}`);
  else {
    for (const key of ['height', 'width', 'slices']) {
      need(isCount(size[key]), `inputSize.${key} must be a positive integer, got ${show(size[key])}`);
    }
  }

  const data = v.data;
  if (!isObject(data)) problems.push(`"data" must be {source, licence}, got ${show(data)}`);
  else {
    need(isText(data.source), `data.source must say where the data comes from, got ${show(data.source)}`);
    need(isText(data.licence), `data.licence must name the data's licence, got ${show(data.licence)}`);
    need(
      data.public === undefined || typeof data.public === 'boolean',
      `data.public must be true or false, got ${show(data.public)}`,
    );
    for (const key of ['citation', 'reader'] as const) {
      need(
        data[key] === undefined || isText(data[key]),
        `data.${key} must be a non-empty string, got ${show(data[key])}`,
      );
    }
    const columns = data.labelColumns;
    if (columns !== undefined) {
      if (!isObject(columns))
        problems.push(`data.labelColumns must map labels to lists of columns, got ${show(columns)}`);
      else {
        const labels = Array.isArray(v.labels) ? v.labels : [];
        for (const [label, list] of Object.entries(columns)) {
          need(labels.includes(label), `data.labelColumns names "${label}", which is not a label of the card`);
          need(
            Array.isArray(list) && list.length > 0 && list.every(isText),
            `data.labelColumns["${label}"] must be a non-empty list of column names, got ${show(list)}`,
          );
        }
      }
    }
  }
  need(v.notes === undefined || isText(v.notes), `"notes" must be a non-empty string, got ${show(v.notes)}`);

  if (problems.length > 0) throw new InputError(source, `invalid task card: ${problems.join('; ')}`);
  return v as unknown as TaskCard;
}

/** Reads and validates a task card JSON file. */
export async function readTaskCard(path: string): Promise<TaskCard> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new InputError(path, `cannot read the task card: ${reason}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputError(path, `the task card is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return validateTaskCard(parsed, path);
}
