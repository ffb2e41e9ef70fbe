import type { LabelledScores } from '../metrics/evaluate.js';
import { InputError } from '../util/errors.js';
import type { CsvTable } from './csv.js';

/** A table keyed by case id with one numeric column per label (predictions or ground truth). */
export interface LabelTable {
  source: string;
  ids: string[];
  labels: string[];
  /** values[l][i]: label l of case ids[i]. */
  values: Float64Array[];
}

export type LabelValues = 'probabilities' | 'binary';

/**
 * Reads a CSV whose first column is the case id and every other column a label: finite numbers
 * for probabilities, 0 or 1 for ground truth. With `labels`, only those columns are read (in that
 * order; each must exist) and any others are ignored. Duplicate ids, empty cells and other values
 * are InputErrors naming the file, the line, the case and the label.
 */
export function labelTableFromCsv(
  table: CsvTable,
  kind: LabelValues,
  options: { labels?: readonly string[] } = {},
): LabelTable {
  const [idColumn, ...rest] = table.header;
  const labels = options.labels ? [...options.labels] : rest;
  if (idColumn === undefined || labels.length === 0) {
    throw new InputError(table.source, 'needs a case-id column followed by at least one label column');
  }
  const columns = labels.map((label) => {
    const k = table.header.indexOf(label);
    if (k < 1) throw new InputError(table.source, `has no column for label "${label}"`);
    return k;
  });
  const values = labels.map(() => new Float64Array(table.rows.length));
  const ids: string[] = [];
  const seen = new Map<string, number>();
  table.rows.forEach((row, i) => {
    const line = table.lines[i]!;
    const id = row[0]!.trim();
    if (id === '') throw new InputError(table.source, `line ${line}: the case id ("${idColumn}") is empty`);
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      throw new InputError(table.source, `line ${line}: case "${id}" appears again (first on line ${earlier})`);
    }
    seen.set(id, line);
    ids.push(id);
    labels.forEach((label, l) => {
      const cell = row[columns[l]!]!.trim();
      const v = cell === '' ? Number.NaN : Number(cell);
      const ok = kind === 'binary' ? v === 0 || v === 1 : Number.isFinite(v);
      if (!ok) {
        const want = kind === 'binary' ? '0 or 1' : 'a finite number';
        throw new InputError(
          table.source,
          `line ${line}: case "${id}", label "${label}" must be ${want}, got "${cell}"`,
        );
      }
      values[l]![i] = v;
    });
  });
  return { source: table.source, ids, labels, values };
}

/**
 * Pairs predictions with ground truth by case id (any row order) and label name (any column
 * order), in the ground truth's order. Every case and label must appear in both: a missing one
 * is an InputError naming the file that lacks it, since a silent gap changes every metric.
 */
export function alignPredictions(pred: LabelTable, truth: LabelTable): LabelledScores & { ids: string[] } {
  const predLabels = new Map(pred.labels.map((l, k) => [l, k]));
  for (const label of truth.labels) {
    if (!predLabels.has(label)) throw new InputError(pred.source, `label "${label}" (in ${truth.source}) is missing`);
  }
  const truthLabels = new Set(truth.labels);
  for (const label of pred.labels) {
    if (!truthLabels.has(label)) {
      throw new InputError(truth.source, `label "${label}" (in ${pred.source}) has no ground-truth column`);
    }
  }
  const predRow = new Map(pred.ids.map((id, i) => [id, i]));
  for (const id of truth.ids) {
    if (!predRow.has(id)) throw new InputError(pred.source, `case "${id}" (in ${truth.source}) has no prediction`);
  }
  const truthIds = new Set(truth.ids);
  for (const id of pred.ids) {
    if (!truthIds.has(id)) throw new InputError(truth.source, `case "${id}" (in ${pred.source}) has no ground truth`);
  }
  const order = truth.ids.map((id) => predRow.get(id)!);
  const scores = truth.labels.map((label) => {
    const column = pred.values[predLabels.get(label)!]!;
    return Float64Array.from(order, (i) => column[i]!);
  });
  return { ids: truth.ids, labels: truth.labels, scores, truth: truth.values };
}
