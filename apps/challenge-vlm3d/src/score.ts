import { readFile, stat } from 'node:fs/promises';
import { alignPredictions, type LabelTable, labelTableFromCsv, readCsv } from '@anymc3d/core/datasets';
import { type CrgResult, type Evaluation, evaluate, type LabelledScores } from '@anymc3d/core/metrics';
import { InputError } from '@anymc3d/core/util';
import { readAsEvaluator } from './evaluator-read.js';
import { CT_RATE_LABELS } from './labels.js';
import { type ResultsDocument, validateResults } from './results.js';

/** The challenge's fixed decision threshold (scores ≥ 0.5 are positive). */
export const VLM3D_THRESHOLD = 0.5;

export interface PathologyScores {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  auroc: number | null;
}

/** The scorer's metrics.json: `{classification: {per_pathology, macro}, crg: {TP, …, CRG}}`. */
export interface Vlm3dMetrics {
  classification: {
    per_pathology: PathologyScores[];
    macro: Omit<PathologyScores, 'name'>;
  };
  crg: CrgResult;
}

export interface Vlm3dScore {
  metrics: Vlm3dMetrics;
  /** The full evaluation (AP, balanced accuracy, positives per label) behind the official numbers. */
  evaluation: Evaluation;
  /** The aligned probabilities and truth (ground-truth order), e.g. for bootstrap intervals. */
  data: LabelledScores;
  /** Predicted cases with no ground truth, which the scorer ignores. */
  ignoredCases: string[];
}

export async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** A volume name as the ground truth may spell it (with .nii/.nii.gz) reduced to the bare case id. */
export function bareCaseId(name: string): string {
  return name.replace(/\.nii(\.gz)?$/i, '');
}

/**
 * Reads the ground-truth CSV: the first column names the volume (e.g. AccessionNo or VolumeName,
 * extension dropped), one 0/1 column per CT-RATE label; other columns (free-text findings) ignored.
 */
export async function readGroundTruth(path: string): Promise<LabelTable> {
  const table = await readCsv(path);
  for (const row of table.rows) row[0] = bareCaseId(row[0]!.trim());
  return labelTableFromCsv(table, 'binary', { labels: CT_RATE_LABELS });
}

/**
 * Reads results.json, either as the container writes it or wrapped by the platform as
 * predictions.json (a list of jobs whose first output's value is the results document); or an
 * output folder, read as the official evaluator reads it (readAsEvaluator), refused where it fails.
 */
export async function readResults(path: string): Promise<unknown> {
  if (await isFolder(path)) {
    const read = await readAsEvaluator(path);
    if (read.failures.length > 0) throw new InputError(path, read.failures.join('; '));
    return read.value;
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new InputError(path, `cannot read the results: ${reason}`, { cause: error });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new InputError(path, `the results are not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (Array.isArray(doc)) {
    const value = (doc[0] as { outputs?: { value?: unknown }[] } | undefined)?.outputs?.[0]?.value;
    if (value === undefined) throw new InputError(path, 'a predictions.json list needs [0].outputs[0].value');
    return value;
  }
  return doc;
}

/**
 * Scores a submission the way the VLM3D evaluation does: per label precision, recall, F1
 * (zero division → 0) and accuracy at ≥ 0.5, AUROC on the probabilities (null for a one-class
 * label, left out of the macro mean), macro = unweighted mean over the 18 labels, and CRG on the
 * same binarised decisions. Unlike the official scripts (which fill a missing case with NaN or 0
 * and a missing label with 0), an invalid submission is refused with every problem listed.
 */
export function scoreResults(doc: unknown, source: string, truth: LabelTable): Vlm3dScore {
  const problems = validateResults(doc, truth.ids);
  if (problems.length > 0) {
    const more = problems.length > 10 ? `; … and ${problems.length - 10} more problems` : '';
    throw new InputError(source, `${problems.slice(0, 10).join('; ')}${more}`);
  }
  const predictions = (doc as ResultsDocument).predictions;
  const known = new Set(truth.ids);
  const kept = predictions.filter((p) => known.has(p.input_image_name));
  const ignoredCases = predictions.filter((p) => !known.has(p.input_image_name)).map((p) => p.input_image_name);
  const pred: LabelTable = {
    source,
    ids: kept.map((p) => p.input_image_name),
    labels: [...CT_RATE_LABELS],
    values: CT_RATE_LABELS.map((label) => Float64Array.from(kept, (p) => p.probabilities[label]!)),
  };
  const data = alignPredictions(pred, truth);
  const evaluation = evaluate(data, VLM3D_THRESHOLD);
  const per_pathology = data.labels.map((name, l): PathologyScores => {
    const m = evaluation.perLabel[l]!;
    return { name, precision: m.precision, recall: m.recall, f1: m.f1, accuracy: m.accuracy, auroc: m.auroc };
  });
  const { precision, recall, f1, accuracy, auroc } = evaluation.macro;
  return {
    metrics: {
      classification: { per_pathology, macro: { precision, recall, f1, accuracy, auroc } },
      crg: evaluation.crg,
    },
    evaluation,
    data,
    ignoredCases,
  };
}
