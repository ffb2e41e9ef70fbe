import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { comparisonPlotSpec, differencesPlotSpec, writePlot } from '../plot/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { type CompareOptions, type Comparison, compareCells } from './compare.js';
import { aurocPoints, comparisonTables, differencePoints, resultsTable } from './report.js';
import { CELL_FILE, type CellResult } from './results.js';

export const RESULTS_JSON = 'results.json';
export const RESULTS_MD = 'results.md';

/** A cell without its per-case predictions (those stay in the cell's own file). */
function summary(cell: CellResult) {
  if (cell.status !== 'done') return cell;
  const { predictions: _predictions, ...rest } = cell;
  return rest;
}

/** `results.json` (every cell's selection, test metrics and intervals) and `results.md` (the table). */
export async function writeResults(
  out: string,
  cells: readonly CellResult[],
  about: Record<string, unknown>,
): Promise<void> {
  await writeFileAtomic(
    join(out, RESULTS_JSON),
    `${JSON.stringify({ format: 'anymc3d-benchmark', version: 1, ...about, cells: cells.map(summary) }, null, 1)}\n`,
  );
  const md = ['# Benchmark results', '', resultsTable(cells), ''].join('\n');
  await writeFileAtomic(join(out, RESULTS_MD), md);
}

/** Every finished cell under a benchmark folder (`cells/<task>/<backbone>/<mode>/result.json`). */
export async function readCells(out: string): Promise<CellResult[]> {
  const root = join(out, 'cells');
  const cells: CellResult[] = [];
  let tasks: string[];
  try {
    tasks = (await readdir(root)).sort();
  } catch {
    throw new InputError(out, 'is not a benchmark folder (no cells/ inside: run `anymc3d benchmark run` first)');
  }
  for (const task of tasks) {
    for (const backbone of (await readdir(join(root, task))).sort()) {
      for (const mode of ['probe', 'attn', 'lora']) {
        const file = join(root, task, backbone, mode, CELL_FILE);
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch {
          continue;
        }
        try {
          cells.push(JSON.parse(text) as CellResult);
        } catch (error) {
          throw new InputError(file, 'is not valid JSON', { cause: error });
        }
      }
    }
  }
  if (cells.length === 0) throw new InputError(out, 'holds no finished benchmark cells');
  return cells;
}

/**
 * `compare.md` (the plots, the results table and the comparisons), `compare.json`, and two plots
 * with their Vega-Lite specs beside them: `auroc.{png,svg,vl.json}` (test AUROC per task, backbone
 * and mode) and `differences.{png,svg,vl.json}` (every paired comparison).
 */
export async function writeComparison(
  dir: string,
  cells: readonly CellResult[],
  options: CompareOptions,
  heading = 'Benchmark comparison',
): Promise<Comparison[]> {
  const comparisons = compareCells(cells, options);
  await writePlot(dir, 'auroc', comparisonPlotSpec(aurocPoints(cells)));
  const differences = differencePoints(comparisons);
  if (differences.length) await writePlot(dir, 'differences', differencesPlotSpec(differences));
  await writeFileAtomic(
    join(dir, 'compare.json'),
    `${JSON.stringify({ format: 'anymc3d-benchmark-comparison', version: 1, bootstrap: options.bootstrap, comparisons }, null, 1)}\n`,
  );
  const md = [
    `# ${heading}`,
    '',
    '![Test AUROC per task, backbone and mode, with 95% bootstrap intervals](auroc.png)',
    '',
    ...(differences.length
      ? ['![Paired AUROC differences with 95% paired bootstrap intervals](differences.png)', '']
      : []),
    '## Results',
    '',
    resultsTable(cells),
    '',
    '## Comparisons',
    '',
    `Paired bootstrap (${options.bootstrap.iterations} resamples of the test cases, seed ${options.bootstrap.seed}): ` +
      'both arms are scored on the same resampled cases. p is two-sided, (2·(min(#Δ≤0, #Δ≥0)+1))/(B+1), at most 1. ' +
      'The mean over tasks resamples every task at once.',
    '',
    comparisons.length ? comparisonTables(comparisons) : 'No pair of arms ran on the same task.',
    '',
  ].join('\n');
  await writeFileAtomic(join(dir, 'compare.md'), md);
  return comparisons;
}
