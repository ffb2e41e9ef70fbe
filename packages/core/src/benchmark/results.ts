import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safeName } from '../features/cache.js';
import type { EvaluationIntervals, MetricSet } from '../metrics/evaluate.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The adaptation modes compared: `probe` = slice-mean of the frozen tokens + a linear head;
 * `attn` = frozen tokens + the task-query attention pooling and head (the plugin without LoRA);
 * `lora` = the full AnyMC3D plugin, LoRA through the backbone.
 */
export const BENCHMARK_MODES = ['probe', 'attn', 'lora'] as const;
export type BenchmarkMode = (typeof BENCHMARK_MODES)[number];

/** Validation score of one training-length candidate. */
export interface Candidate {
  step: number;
  /** Macro AUROC on the validation split (null where undefined). */
  valAuroc: number | null;
  trainLoss: number;
}

/** Test predictions kept with the result, so comparisons resample the same cases in both arms. */
export interface CellPredictions {
  ids: string[];
  /** Raw (unfolded) probability per label, `scores[l][i]`. */
  scores: number[][];
  truth: number[][];
}

/** One finished (task, backbone, mode) cell, or a mode the backbone cannot run. */
export type CellResult = CellCommon & (DoneCell | UnsupportedCell);

interface CellCommon {
  format: 'anymc3d-benchmark-cell';
  version: 1;
  /** Hash of everything that decides the result (data, backbone weights, preprocessing, settings). */
  key: string;
  task: string;
  backbone: { name: string; weightHash: string };
  mode: BenchmarkMode;
}

export interface UnsupportedCell {
  status: 'not-supported';
  reason: string;
}

export interface DoneCell {
  status: 'done';
  labels: string[];
  selection: {
    metric: 'auroc';
    candidates: Candidate[];
    chosenStep: number;
    /** Per-label operating points chosen on validation (null: one class in validation). */
    thresholds: (number | null)[];
    criterion: string;
  };
  /** Scored once, with the chosen step and thresholds. */
  test: {
    cases: number;
    positives: number[];
    macro: MetricSet;
    perLabel: MetricSet[];
    intervals: EvaluationIntervals;
  };
  predictions: CellPredictions;
  parameters: { trainable: number };
  seconds: { train: number; predict: number };
  /** The chosen plugin (relative to the benchmark folder). */
  plugin: string;
}

export function cellDir(root: string, task: string, backbone: string, mode: BenchmarkMode): string {
  return join(root, 'cells', safeName(task), safeName(backbone), mode);
}

export const CELL_FILE = 'result.json';

/** The stored result of a cell if it was finished with these very settings, else null. */
export async function readCell(dir: string, key: string): Promise<CellResult | null> {
  let text: string;
  try {
    text = await readFile(join(dir, CELL_FILE), 'utf8');
  } catch {
    return null;
  }
  const cell = JSON.parse(text) as CellResult;
  return cell.format === 'anymc3d-benchmark-cell' && cell.key === key ? cell : null;
}

/** Written atomically: a cell file that exists is a finished cell. */
export async function writeCell(dir: string, cell: CellResult): Promise<void> {
  await writeFileAtomic(join(dir, CELL_FILE), `${JSON.stringify(cell, null, 1)}\n`);
}
