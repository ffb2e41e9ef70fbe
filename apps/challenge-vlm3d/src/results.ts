import { CT_RATE_LABELS } from './labels.js';

export interface CasePrediction {
  input_image_name: string;
  probabilities: Record<string, number>;
}

export interface ResultsDocument {
  name: 'Generated probabilities';
  type: 'Abnormality Classification';
  version: { major: 1; minor: 0 };
  predictions: CasePrediction[];
}

/**
 * Checks a results.json document the way the scorer will read it and returns every problem
 * found (empty when valid): schema, all 18 labels present and no others, finite values in
 * [0,1], bare case names (no extension, no dots), no duplicates, and, when given, every
 * expected case covered.
 */
export function validateResults(doc: unknown, expectedCases?: readonly string[]): string[] {
  const problems: string[] = [];
  if (typeof doc !== 'object' || doc === null) return ['results is not a JSON object'];
  const d = doc as Record<string, unknown>;
  if (d.name !== 'Generated probabilities') problems.push('"name" must be "Generated probabilities"');
  if (d.type !== 'Abnormality Classification') problems.push('"type" must be "Abnormality Classification"');
  const v = d.version as Record<string, unknown> | undefined;
  if (v?.major !== 1 || v?.minor !== 0) problems.push('"version" must be {"major":1,"minor":0}');
  if (!Array.isArray(d.predictions)) return [...problems, '"predictions" must be a list'];
  const seen = new Set<string>();
  for (const [i, p] of (d.predictions as unknown[]).entries()) {
    const entry = p as Partial<CasePrediction> | null;
    const name = entry?.input_image_name;
    const where = typeof name === 'string' ? `case "${name}"` : `predictions[${i}]`;
    if (typeof name !== 'string' || name.length === 0) {
      problems.push(`${where}: "input_image_name" must be a non-empty string`);
    } else {
      if (/\.(nii|nii\.gz|mha|mhd|nrrd)$/i.test(name) || name.includes('.')) {
        problems.push(`${where}: "input_image_name" must be the file name without extension`);
      }
      if (seen.has(name)) problems.push(`${where}: appears more than once`);
      seen.add(name);
    }
    const probs = entry?.probabilities;
    if (typeof probs !== 'object' || probs === null) {
      problems.push(`${where}: "probabilities" must be an object`);
      continue;
    }
    for (const label of CT_RATE_LABELS) {
      const value = (probs as Record<string, unknown>)[label];
      if (value === undefined) problems.push(`${where}: label "${label}" is missing`);
      else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
        problems.push(`${where}: "${label}" must be a finite number in [0,1], got ${String(value)}`);
      }
    }
    const known = new Set<string>(CT_RATE_LABELS);
    for (const key of Object.keys(probs)) {
      if (!known.has(key)) problems.push(`${where}: unknown label "${key}" (check spelling)`);
    }
  }
  for (const name of expectedCases ?? []) {
    if (!seen.has(name)) problems.push(`case "${name}" has no prediction`);
  }
  return problems;
}

/** The flat document, as the organisers' example writes it and `vlm3d score` reads it. */
export const RESULTS_FILE = 'results.json';
/**
 * The document the platform's evaluator reads: it takes the first `*.json` of the output folder
 * in sorted order ("predictions.json" sorts before "results.json") and reads
 * `data[0]["outputs"][0]["value"]["predictions"]`, the Grand Challenge job-list shape.
 */
export const PREDICTIONS_FILE = 'predictions.json';

/** The platform's wrapping of a results document: one job, one output, the document as its value. */
export type PlatformPredictions = [{ outputs: [{ value: ResultsDocument }] }];

export function wrapForPlatform(doc: ResultsDocument): PlatformPredictions {
  return [{ outputs: [{ value: doc }] }];
}
