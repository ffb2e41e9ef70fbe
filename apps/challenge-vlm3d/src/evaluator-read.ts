import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CT_RATE_LABELS } from './labels.js';

/**
 * What the official evaluator (forithmus/VLM3D-Dockers, ct_challenges/abnclass_evaluation:
 * evaluation.py, json_to_csv.py, calc_scores.py) gets from an output folder, or why it stops.
 */
export interface EvaluatorRead {
  /** The file it reads: the first `*.json` of the folder in sorted order (null when none). */
  file: string | null;
  /** `data[0]["outputs"][0]["value"]`, the results document inside the job list. */
  value: unknown;
  /** One case per prediction, named and valued exactly as the evaluator derives them. */
  cases: { id: string; probabilities: number[] }[];
  /** Where the evaluator would raise (KeyError, TypeError, ValueError …): the submission scores nothing. */
  failures: string[];
  /** Labels the evaluator silently reads as 0.0 because their key is absent. */
  missingLabels: string[];
}

/** `Path(name).stem.replace(".nii", "")`: the evaluator's case id. */
export function evaluatorCaseId(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  return stem.replaceAll('.nii', '');
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Python's float() on a JSON value: numbers, booleans and numeric strings convert; the rest raise. */
function pythonFloat(x: unknown): number | null {
  if (typeof x === 'number') return x;
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'string' && x.trim() !== '' && !Number.isNaN(Number(x.trim()))) return Number(x.trim());
  return null;
}

/**
 * Reads an output folder the way the official evaluator does: the first `*.json` by sorted name,
 * the job list's first output's value, each prediction's `input_image_name` through
 * `Path(…).stem.replace(".nii", "")` and each label's `probabilities.get(label, 0.0)` through
 * `float()`. Every place the evaluator would raise is a failure; with `expected` (the ground
 * truth's ids), a missing or repeated case is one too (pandas' reindex raises on repeated ids;
 * a missing case becomes a NaN row that the integer cast and scikit-learn then reject).
 */
export async function readAsEvaluator(folder: string, expected?: readonly string[]): Promise<EvaluatorRead> {
  const out: EvaluatorRead = { file: null, value: undefined, cases: [], failures: [], missingLabels: [] };
  const names = (await readdir(folder, { withFileTypes: true }))
    .filter((e) => e.name.endsWith('.json') && !e.isDirectory())
    .map((e) => e.name)
    .sort();
  if (names.length === 0) {
    out.failures.push(`no *.json in ${folder} (the evaluator raises FileNotFoundError)`);
    return out;
  }
  out.file = join(folder, names[0]!);
  let data: unknown;
  try {
    data = JSON.parse(await readFile(out.file, 'utf8'));
  } catch (error) {
    out.failures.push(`${out.file}: not valid JSON (${(error as Error).message})`);
    return out;
  }
  const job = Array.isArray(data) ? data[0] : undefined;
  const output = isObject(job) && Array.isArray(job.outputs) ? job.outputs[0] : undefined;
  if (!isObject(output) || !isObject(output.value)) {
    out.failures.push(
      `${out.file}: has no data[0]["outputs"][0]["value"] (a list of jobs is expected, as predictions.json holds; ` +
        `a flat results.json first in sorted order fails here)`,
    );
    return out;
  }
  out.value = output.value;
  const predictions = output.value.predictions;
  if (!Array.isArray(predictions)) {
    out.failures.push(`${out.file}: value["predictions"] must be a list`);
    return out;
  }
  const missing = new Set<string>();
  for (const [i, item] of predictions.entries()) {
    const where = `${out.file}: predictions[${i}]`;
    if (!isObject(item) || typeof item.input_image_name !== 'string') {
      out.failures.push(`${where}: no "input_image_name" string`);
      continue;
    }
    if (!isObject(item.probabilities)) {
      out.failures.push(`${where}: "probabilities" must be an object`);
      continue;
    }
    const probabilities: number[] = [];
    for (const label of CT_RATE_LABELS) {
      const raw = item.probabilities[label];
      if (raw === undefined) {
        missing.add(label);
        probabilities.push(0);
        continue;
      }
      const value = pythonFloat(raw);
      if (value === null) out.failures.push(`${where}: float() fails on "${label}" = ${JSON.stringify(raw)}`);
      probabilities.push(value ?? Number.NaN);
    }
    out.cases.push({ id: evaluatorCaseId(item.input_image_name), probabilities });
  }
  out.missingLabels = [...missing];
  if (expected !== undefined) {
    const seen = new Map<string, number>();
    for (const c of out.cases) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
    for (const [id, n] of seen) {
      if (n > 1) out.failures.push(`case "${id}" is predicted ${n} times (pandas' reindex raises on repeated ids)`);
    }
    const absent = expected.filter((id) => !seen.has(id));
    if (absent.length > 0) {
      out.failures.push(
        `${absent.length} ground-truth case(s) without a prediction (${absent.slice(0, 5).join(', ')}` +
          `${absent.length > 5 ? ', …' : ''}): their NaN rows make calc_scores.py fail`,
      );
    }
  }
  return out;
}
