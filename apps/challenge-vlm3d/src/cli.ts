import { parseArgs } from 'node:util';
import { bootstrapIntervals, formatEvaluationTable } from '@anymc3d/core/metrics';
import { writeFileAtomic } from '@anymc3d/core/util';
import { validateResults } from './results.js';
import { readGroundTruth, readResults, scoreResults, VLM3D_THRESHOLD } from './score.js';

const USAGE = `usage:
  vlm3d validate RESULTS.json [--gt LABELS.csv]   check a submission (and that it covers every case)
  vlm3d score --pred RESULTS.json --gt LABELS.csv [--json] [-o METRICS.json] [--bootstrap N] [--seed S]
                                                   score it as the challenge does (probabilities >= 0.5)`;

class UsageError extends Error {}

type Write = (text: string) => void;

async function validate(args: string[], out: Write): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { gt: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('validate takes one results.json');
  const path = positionals[0]!;
  const doc = await readResults(path);
  const expected = values.gt === undefined ? undefined : (await readGroundTruth(values.gt)).ids;
  const problems = validateResults(doc, expected);
  if (problems.length === 0) {
    const n = (doc as { predictions: unknown[] }).predictions.length;
    out(`${path}: valid (${n} cases${expected ? `, every one of the ${expected.length} expected` : ''})\n`);
    return 0;
  }
  out(`${path}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}\n`).join('')}`);
  return 1;
}

async function score(args: string[], out: Write): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      pred: { type: 'string' },
      gt: { type: 'string' },
      json: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o' },
      bootstrap: { type: 'string' },
      seed: { type: 'string', default: '0' },
    },
  });
  if (values.pred === undefined || values.gt === undefined) throw new UsageError('score needs --pred and --gt');
  const iterations = Number(values.bootstrap ?? (values.json ? '0' : '1000'));
  const seed = Number(values.seed);
  if (!Number.isInteger(iterations) || iterations < 0) throw new UsageError('--bootstrap must be a whole number >= 0');
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be an integer');
  const result = scoreResults(await readResults(values.pred), values.pred, await readGroundTruth(values.gt));
  const text = `${JSON.stringify(result.metrics, null, 2)}\n`;
  if (values.output !== undefined) await writeFileAtomic(values.output, text);
  if (values.json) {
    out(text);
    return 0;
  }
  const intervals = iterations > 0 ? bootstrapIntervals(result.data, VLM3D_THRESHOLD, { iterations, seed }) : undefined;
  out(formatEvaluationTable(result.evaluation, intervals));
  if (result.ignoredCases.length > 0) {
    out(`${result.ignoredCases.length} predicted case(s) without ground truth ignored, as the scorer does.\n`);
  }
  return 0;
}

/** Runs `vlm3d <command>` and returns the exit code; bad input is one line on stderr. */
export async function runVlm3d(argv: string[], out: Write = (t) => process.stdout.write(t)): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'validate') return await validate(rest, out);
    if (command === 'score') return await score(rest, out);
    if (command === undefined || command === '--help' || command === '-h') {
      out(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vlm3d: ${(error as Error).message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`vlm3d: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
