import { alignPredictions, labelTableFromCsv, readCsv } from '@anymc3d/core/datasets';
import { bootstrapIntervals, evaluate, evaluationReport, formatEvaluationTable } from '@anymc3d/core/metrics';
import { writeEvaluationPlots } from '@anymc3d/core/plot';
import { InputError } from '@anymc3d/core/util';
import type { CommandModule } from 'yargs';

interface EvaluateArgs {
  pred: string;
  gt: string;
  threshold: number;
  json: boolean;
  bootstrap?: number;
  seed: number;
  plots?: string;
  bins: number;
}

/** Bootstrap resamples for the table when --bootstrap is not given; --json reports none unless asked. */
const TABLE_BOOTSTRAP = 1000;

export interface EvaluateOptions {
  pred: string;
  gt: string;
  threshold: number;
  bootstrap: number;
  seed: number;
}

/** Reads both CSVs, pairs them by case id and label, and computes the metrics (and intervals). */
export async function evaluateFiles(options: EvaluateOptions) {
  const [predTable, gtTable] = await Promise.all([readCsv(options.pred), readCsv(options.gt)]);
  const data = alignPredictions(labelTableFromCsv(predTable, 'probabilities'), labelTableFromCsv(gtTable, 'binary'));
  if (data.ids.length === 0) throw new InputError(options.gt, 'has no cases');
  const result = evaluate(data, options.threshold);
  const intervals =
    options.bootstrap > 0
      ? bootstrapIntervals(data, options.threshold, { iterations: options.bootstrap, seed: options.seed })
      : undefined;
  return { result, intervals, data };
}

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate',
  describe: 'Score predicted probabilities against ground truth (AUROC, AP, F1, …, CRG, bootstrap CIs)',
  builder: (y) =>
    y
      .option('pred', {
        type: 'string',
        demandOption: true,
        describe: 'CSV of probabilities: a case-id column, then one column per label',
      })
      .option('gt', {
        type: 'string',
        demandOption: true,
        describe: 'CSV of ground truth: a case-id column, then one 0/1 column per label',
      })
      .option('threshold', {
        type: 'number',
        default: 0.5,
        describe: 'Decision threshold (score >= threshold is positive) for precision/recall/F1/accuracy/CRG',
      })
      .option('bootstrap', {
        type: 'number',
        describe: `Case-level bootstrap resamples for 95% intervals (0: none; default ${TABLE_BOOTSTRAP} for the table, 0 with --json)`,
      })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the bootstrap' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' })
      .option('plots', {
        type: 'string',
        describe:
          'Also write ROC curves and reliability diagrams per label to this folder (roc.* and reliability.*: PNG, SVG, Vega-Lite spec)',
      })
      .option('bins', { type: 'number', default: 10, describe: 'Equal-width bins of the reliability diagram' })
      .check((a) => {
        if (!Number.isFinite(a.threshold)) return '--threshold must be a number';
        if (a.bootstrap !== undefined && !(Number.isInteger(a.bootstrap) && a.bootstrap >= 0)) {
          return '--bootstrap must be a whole number >= 0';
        }
        if (!Number.isInteger(a.seed)) return '--seed must be an integer';
        if (!(Number.isInteger(a.bins) && a.bins >= 2)) return '--bins must be a whole number >= 2';
        return true;
      }),
  handler: async (args) => {
    const bootstrap = args.bootstrap ?? (args.json ? 0 : TABLE_BOOTSTRAP);
    const { result, intervals, data } = await evaluateFiles({
      pred: args.pred,
      gt: args.gt,
      threshold: args.threshold,
      bootstrap,
      seed: args.seed,
    });
    const plots = args.plots ? await writeEvaluationPlots(args.plots, data, args.threshold, args.bins) : undefined;
    if (args.json) {
      const files = plots && { roc: plots.roc ?? null, reliability: plots.reliability, noRocCurve: plots.skipped };
      process.stdout.write(
        `${JSON.stringify({ ...evaluationReport(result, intervals), ...(files ? { plots: files } : {}) })}\n`,
      );
      return;
    }
    process.stdout.write(formatEvaluationTable(result, intervals));
    if (plots) {
      const written = [plots.roc?.png, plots.reliability.png].filter(Boolean).join(', ');
      const skipped = plots.skipped.length ? ` (no ROC curve for ${plots.skipped.join(', ')}: one class only)` : '';
      process.stdout.write(`plots: ${written}${skipped}\n`);
    }
  },
};
