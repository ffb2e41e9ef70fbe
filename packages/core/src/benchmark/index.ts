/**
 * The benchmark suite: every task × backbone × adaptation mode (`probe`: slice-mean + linear
 * head; `attn`: frozen tokens + task-query attention pooling; `lora`: the full plugin), trained
 * on train, selected on val, scored once on test with bootstrap intervals (`runBenchmark`), and
 * the paired comparisons between modes and backbones (`compareCells`), with Markdown tables and
 * a PNG plot. Frozen tokens come from the feature cache; finished cells are never recomputed.
 */

export { caseTokens, checkSplits, meanPooled, splitCases } from './cases.js';
export { type CompareOptions, type Comparison, compareCells } from './compare.js';
export { RESULTS_JSON, RESULTS_MD, readCells, writeComparison, writeResults } from './outputs.js';
export { type PairedDifference, pairedAurocDifference, pairedSamples } from './paired.js';
export { aurocPoints, comparisonTables, differencePoints, resultsTable } from './report.js';
export {
  BENCHMARK_MODES,
  type BenchmarkMode,
  type Candidate,
  CELL_FILE,
  type CellPredictions,
  type CellResult,
  cellDir,
  type DoneCell,
  readCell,
  type UnsupportedCell,
  writeCell,
} from './results.js';
export { type BenchmarkEvent, type BenchmarkPlan, type BenchmarkRun, runBenchmark } from './run.js';
export { benchmarkView } from './task-inputs.js';
export { type CellArgs, type CellData, type CellSettings, trainCell } from './train-cell.js';
