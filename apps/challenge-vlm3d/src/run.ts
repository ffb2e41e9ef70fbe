import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Device, Precision } from '@anymc3d/core/graph';
import { foldThreshold } from '@anymc3d/core/metrics';
import { servedPrecision } from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import { findInputCases } from './inputs.js';
import { CT_RATE_LABELS } from './labels.js';
import { readRescaleTable } from './metadata.js';
import { type CaseInput, type Rescale, readCase } from './preprocess.js';
import type { CasePrediction, ResultsDocument } from './results.js';
import { validateResults } from './results.js';
import { clearSubmission, writeSubmission } from './submission.js';
import { TimeBudget } from './time-budget.js';
import { loadChallengeModel } from './weights.js';

export interface RunOptions {
  input: string;
  output: string;
  weights: string;
  /** How the weights folder was found (logged). */
  weightsFrom?: string;
  /** Minutes the whole run may take: projected from the first volumes, stopped early when over. */
  timeBudgetMinutes?: number;
  /** When the budget's clock started (default: the start of this process, as the platform counts). */
  startedAt?: number;
  /** Slope/intercept for volumes whose voxels are still raw scanner values (never applied to HU). */
  rescale?: Rescale;
  /** A metadata CSV (VolumeName, RescaleSlope, RescaleIntercept) giving raw volumes their rescale. */
  metadata?: string;
  /** Write the plugin's raw probabilities, without folding the thresholds (for choosing them on validation). */
  uncalibrated?: boolean;
  threads?: number;
  /** Where the backbone runs: 'cuda' needs onnxruntime-node's CUDA provider installed (README). */
  device?: Device;
  /** The frozen backbone's precision ('int8': quantised weight MatMuls; refused for LoRA plugins); default: the plugin's. */
  precision?: Precision;
  /** Progress lines (stderr in the container). */
  log?: (line: string) => void;
}

/**
 * The container's whole job: every volume under the input folder through the backbone and the
 * 18-label plugin, thresholds folded so the scorer's fixed 0.5 is each label's operating point,
 * and `predictions.json` (what the evaluator reads) plus `results.json` (the flat schema) written
 * once, atomically, after every case succeeded. Any failure throws (naming the file) and leaves
 * neither file behind, not even one from an earlier run. With a time budget, a run projected to
 * overrun it stops early (the platform would kill it and score nothing anyway).
 */
export async function runChallenge(options: RunOptions): Promise<ResultsDocument> {
  const log = options.log ?? (() => {});
  await mkdir(options.output, { recursive: true });
  await clearSubmission(options.output);
  const cases = findInputCases(options.input);
  const table = options.metadata ? await readRescaleTable(options.metadata) : undefined;
  log(`${cases.length} volume(s) under ${options.input}`);
  if (!existsSync(options.weights))
    throw new InputError(options.weights, `no weights folder here (${options.weightsFrom ?? 'as given'})`);
  log(`weights ${options.weights}${options.weightsFrom ? ` (${options.weightsFrom})` : ''}`);
  const budget =
    options.timeBudgetMinutes === undefined
      ? undefined
      : new TimeBudget(
          options.timeBudgetMinutes,
          cases.length,
          options.startedAt ?? Date.now() - process.uptime() * 1000,
        );
  const model = await loadChallengeModel(options.weights, {
    ...(options.threads ? { threads: options.threads } : {}),
    ...(options.device ? { device: options.device } : {}),
    ...(options.precision ? { precision: options.precision } : {}),
  });
  const { card } = model.plugin;
  log(
    `backbone ${model.backbone.card.name} (${model.backbone.weightHash.slice(0, 12)}), plugin ${card.task}, ` +
      `${card.lora ? `LoRA r${card.lora.rank}` : 'frozen'}, ${model.recipe.orientation} at ${model.recipe.spacing!.join('×')} mm, ` +
      `${servedPrecision(card, options.precision)} on ${options.device ?? 'cpu'}`,
  );
  const predictions: CasePrediction[] = [];
  const started = Date.now();
  try {
    for (const [k, c] of cases.entries()) {
      let input: CaseInput;
      let probabilities: number[];
      try {
        input = await readCase(c.path, model.recipe, model.backbone.card, table?.get(c.name) ?? options.rescale);
        probabilities = (await model.plugin.predict(input.pixels, input.slices)).probabilities;
      } catch (error) {
        if (error instanceof InputError) throw error;
        throw new InputError(c.path, (error as Error).message ?? String(error), { cause: error });
      }
      const values: Record<string, number> = {};
      for (const [l, label] of CT_RATE_LABELS.entries()) {
        const p = probabilities[l]!;
        if (!(p >= 0 && p <= 1)) throw new InputError(c.path, `the model gave ${p} for "${label}" (not a probability)`);
        values[label] = options.uncalibrated ? p : foldThreshold(p, card.thresholds[l]!);
      }
      predictions.push({ input_image_name: c.name, probabilities: values });
      const rescaled = input.rescale.slope !== 1 || input.rescale.intercept !== 0;
      log(
        `[${k + 1}/${cases.length}] ${c.name}: ${input.slices} slices${rescaled ? `, rescaled ×${input.rescale.slope}+${input.rescale.intercept}` : ''}, ` +
          `${((Date.now() - started) / 1000 / (k + 1)).toFixed(1)} s/case`,
      );
      const projection = budget?.caseDone(Date.now());
      if (projection?.report) log(projection.report);
      if (projection?.over) throw new Error(projection.over);
    }
  } finally {
    await model.plugin.release();
  }
  const doc: ResultsDocument = {
    name: 'Generated probabilities',
    type: 'Abnormality Classification',
    version: { major: 1, minor: 0 },
    predictions,
  };
  const problems = validateResults(
    doc,
    cases.map((c) => c.name),
  );
  if (problems.length > 0) throw new Error(`results failed validation: ${problems.slice(0, 5).join('; ')}`);
  const written = await writeSubmission(options.output, doc);
  log(`wrote ${written.join(' and ')} (${predictions.length} cases)`);
  return doc;
}
