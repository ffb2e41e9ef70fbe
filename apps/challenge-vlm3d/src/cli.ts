import type { CtRateRelease } from '@anymc3d/core/datasets';
import { DEVICES, type Device, type Precision } from '@anymc3d/core/graph';
import {
  bootstrapIntervals,
  formatEvaluationTable,
  THRESHOLD_CRITERIA,
  type ThresholdCriterion,
} from '@anymc3d/core/metrics';
import { writeFileAtomic } from '@anymc3d/core/util';
import type { Vec3 } from '@anymc3d/core/volume';
import { readAsEvaluator } from './evaluator-read.js';
import { parseFlags } from './flags.js';
import { challengePaths } from './inputs.js';
import { packageWeights } from './package.js';
import { validateResults } from './results.js';
import { runChallenge } from './run.js';
import { isFolder, readGroundTruth, readResults, scoreResults, VLM3D_THRESHOLD } from './score.js';
import { TRAIN_MODES, type TrainMode, trainCtRate } from './train.js';

const USAGE = `usage:
  vlm3d run [-i DIR] [-o DIR] [--weights DIR] [--rescale SLOPE,INTERCEPT | --metadata CSV] [--uncalibrated]
            [--threads N] [--time-budget MIN] [--device cpu|cuda] [--precision fp32|int8]
                                                   every volume in DIR (default $FORITHMUS_INPUT or /input) →
                                                   DIR/predictions.json (what the evaluator reads) and
                                                   DIR/results.json (default $FORITHMUS_OUTPUT or /output);
                                                   weights from --weights, $FORITHMUS_WEIGHTS, /weights or
                                                   /opt/ml/model; stops early when the run is projected to
                                                   overrun MIN minutes (or $VLM3D_TIME_BUDGET)
  vlm3d train --ct-rate ROOT --backbone DIR -o PLUGIN_DIR [--mode lora|frozen] [--release v1|v2] [--input-size N]
              [--spacing X,Y,Z] [--batch N] [--lr-head X] [--criterion crg|f1|youden] [--limit N] [--threads N]
              [--device cpu|cuda]
              lora (default): [--lora-steps N[,N…]] [--lr-lora X] [--chunk N] [--no-augment]
              frozen:         [--cache DIR] [--steps N[,N…]] [--precision fp32|int8] (default: the backbone
                              card's on the CPU; recorded in plugin.json, which vlm3d run then follows)
                                                   train the 18-label plugin on CT-RATE (the method: LoRA rank 8
                                                   α 16 + query + head through the backbone; or the fast frozen
                                                   probe), thresholds chosen on its val split for CRG (default);
                                                   v1 (raw + metadata rescale) or v2 (_fixed, HU) found from the
                                                   folders; resumes from a checkpoint in PLUGIN_DIR
  vlm3d package --backbone DIR --plugin DIR -o WEIGHTS_DIR|weights.zip [--spacing X,Y,Z] [--orientation LPS]
                [--calibrate RAW_RESULTS.json --gt LABELS.csv [--criterion crg|f1|youden]]
                                                   build the weights folder (or the weights.zip) to upload
  vlm3d validate OUTPUT_DIR|RESULTS.json [--gt LABELS.csv]
                                                   check a submission: a folder is read exactly as the
                                                   official evaluator reads it (and must cover every case)
  vlm3d score --pred OUTPUT_DIR|RESULTS.json --gt LABELS.csv [--json] [-o METRICS.json] [--bootstrap N] [--seed S]
                                                   score it as the challenge does (probabilities >= 0.5)`;

class UsageError extends Error {}

const isDevice = (d: string): d is Device => (DEVICES as readonly string[]).includes(d);

/** yargs' own refusals (unknown flag, missing value): usage errors, exit 2. */
const isFlagError = (error: unknown) =>
  error instanceof Error &&
  /^(Unknown argument|Not enough arguments|Missing required|unexpected argument)/.test(error.message);

type Write = (text: string) => void;

async function validate(args: string[], out: Write): Promise<number> {
  const { positionals, values } = parseFlags(args, { gt: { type: 'string' } }, true);
  if (positionals.length !== 1) throw new UsageError('validate takes one output folder or results.json');
  const path = positionals[0]!;
  const expected = values.gt === undefined ? undefined : (await readGroundTruth(values.gt)).ids;
  let doc: unknown;
  const fatal: string[] = [];
  if (await isFolder(path)) {
    // As the platform's evaluator reads it: the first *.json, the job list, its names and floats.
    const read = await readAsEvaluator(path, expected);
    fatal.push(...read.failures);
    if (read.file !== null) out(`${path}: the evaluator reads ${read.file}\n`);
    if (read.missingLabels.length > 0)
      fatal.push(
        `label(s) ${read.missingLabels.map((l) => `"${l}"`).join(', ')} absent: the evaluator scores them as 0.0`,
      );
    doc = read.value;
  } else {
    doc = await readResults(path);
  }
  const problems = doc === undefined ? [] : validateResults(doc, expected);
  if (fatal.length === 0 && problems.length === 0) {
    const n = (doc as { predictions: unknown[] }).predictions.length;
    out(`${path}: valid (${n} cases${expected ? `, every one of the ${expected.length} expected` : ''})\n`);
    return 0;
  }
  if (fatal.length > 0)
    out(`${path}: the official evaluator would fail or misread it:\n${fatal.map((p) => `  ${p}\n`).join('')}`);
  if (problems.length > 0) out(`${path}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}\n`).join('')}`);
  return 1;
}

async function score(args: string[], out: Write): Promise<number> {
  const { values } = parseFlags(args, {
    pred: { type: 'string' },
    gt: { type: 'string' },
    json: { type: 'boolean', default: false },
    output: { type: 'string', short: 'o' },
    bootstrap: { type: 'string' },
    seed: { type: 'string', default: '0' },
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

function numbers(text: string, count: number, flag: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length !== count || values.some((v) => !Number.isFinite(v)))
    throw new UsageError(`${flag} takes ${count} comma-separated numbers, got "${text}"`);
  return values;
}

async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    input: { type: 'string', short: 'i' },
    output: { type: 'string', short: 'o' },
    weights: { type: 'string' },
    rescale: { type: 'string' },
    metadata: { type: 'string' },
    uncalibrated: { type: 'boolean', default: false },
    threads: { type: 'string' },
    'time-budget': { type: 'string' },
    device: { type: 'string', short: 'd' },
    precision: { type: 'string' },
    quiet: { type: 'boolean', short: 'q', default: false },
  });
  const budgetText = values['time-budget'] ?? process.env.VLM3D_TIME_BUDGET;
  const budget = budgetText === undefined || budgetText === '' ? undefined : Number(budgetText);
  if (budget !== undefined && !(budget > 0 && Number.isFinite(budget)))
    throw new UsageError(`--time-budget (or VLM3D_TIME_BUDGET) must be positive minutes, got "${budgetText}"`);
  const device = values.device ?? process.env.VLM3D_DEVICE ?? 'cpu';
  if (!isDevice(device)) throw new UsageError(`--device (or VLM3D_DEVICE) must be one of ${DEVICES.join(', ')}`);
  // Unset: the arithmetic of the tokens the plugin was trained on (its card; fp32 where it says none).
  const precision = precisionFlag(
    values.precision ?? (process.env.VLM3D_PRECISION || undefined),
    '--precision (or VLM3D_PRECISION)',
  );
  const paths = challengePaths(process.env, {
    ...(values.input !== undefined ? { input: values.input } : {}),
    ...(values.output !== undefined ? { output: values.output } : {}),
    ...(values.weights !== undefined ? { weights: values.weights } : {}),
  });
  const rescale = values.rescale === undefined ? undefined : numbers(values.rescale, 2, '--rescale');
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
    throw new UsageError('--threads must be a positive whole number');
  await runChallenge({
    ...paths,
    ...(rescale ? { rescale: { slope: rescale[0]!, intercept: rescale[1]! } } : {}),
    ...(values.metadata !== undefined ? { metadata: values.metadata } : {}),
    uncalibrated: values.uncalibrated,
    ...(budget !== undefined ? { timeBudgetMinutes: budget } : {}),
    device,
    ...(precision ? { precision } : {}),
    ...(threads ? { threads } : {}),
    log: values.quiet ? () => {} : (line) => process.stderr.write(`vlm3d: ${line}\n`),
  });
  return 0;
}

async function pack(args: string[], out: Write): Promise<number> {
  const { values } = parseFlags(args, {
    backbone: { type: 'string' },
    plugin: { type: 'string' },
    output: { type: 'string', short: 'o' },
    spacing: { type: 'string' },
    orientation: { type: 'string' },
    calibrate: { type: 'string' },
    gt: { type: 'string' },
    criterion: { type: 'string', default: 'crg' },
  });
  if (values.backbone === undefined || values.plugin === undefined || values.output === undefined)
    throw new UsageError('package needs --backbone, --plugin and -o');
  if ((values.calibrate === undefined) !== (values.gt === undefined))
    throw new UsageError('--calibrate and --gt go together');
  const criterion = values.criterion as ThresholdCriterion;
  if (!THRESHOLD_CRITERIA.includes(criterion))
    throw new UsageError(`--criterion must be one of ${THRESHOLD_CRITERIA.join(', ')}`);
  const result = await packageWeights({
    backbone: values.backbone,
    plugin: values.plugin,
    output: values.output,
    ...(values.spacing ? { spacing: numbers(values.spacing, 3, '--spacing') as Vec3 } : {}),
    ...(values.orientation ? { orientation: values.orientation } : {}),
    ...(values.calibrate && values.gt ? { calibrate: { results: values.calibrate, gt: values.gt, criterion } } : {}),
    log: (line) => out(`${line}\n`),
  });
  if (result.uncalibrated.length > 0)
    out(`kept the card's threshold for ${result.uncalibrated.join(', ')} (one class only in the validation truth)\n`);
  return 0;
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`${flag} must be a positive whole number`);
  return n;
}

/** A comma-separated list of step counts (LoRA candidates along one schedule). */
function counts(text: string | undefined, flag: string): number[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !(Number.isInteger(n) && n > 0)))
    throw new UsageError(`${flag} must be positive whole numbers, comma-separated`);
  return list;
}

function precisionFlag(text: string | undefined, flag: string): Precision | undefined {
  if (text === undefined || text === 'fp32' || text === 'int8') return text;
  throw new UsageError(`${flag} must be fp32 or int8`);
}

function rate(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text);
  if (!(x > 0 && Number.isFinite(x))) throw new UsageError(`${flag} must be a positive number`);
  return x;
}

async function train(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    'ct-rate': { type: 'string' },
    backbone: { type: 'string' },
    output: { type: 'string', short: 'o' },
    mode: { type: 'string', default: 'lora' },
    release: { type: 'string' },
    'no-augment': { type: 'boolean', default: false },
    cache: { type: 'string' },
    'input-size': { type: 'string' },
    spacing: { type: 'string' },
    steps: { type: 'string' },
    'lora-steps': { type: 'string' },
    batch: { type: 'string' },
    'lr-head': { type: 'string' },
    'lr-lora': { type: 'string' },
    chunk: { type: 'string' },
    criterion: { type: 'string', default: 'crg' },
    limit: { type: 'string' },
    device: { type: 'string', short: 'd' },
    threads: { type: 'string' },
    precision: { type: 'string' },
  });
  if (values['ct-rate'] === undefined || values.backbone === undefined || values.output === undefined)
    throw new UsageError('train needs --ct-rate, --backbone and -o');
  const mode = values.mode as TrainMode;
  if (!TRAIN_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${TRAIN_MODES.join(', ')}`);
  // A flag of the other mode is refused rather than ignored: --steps 2000 meant for tokens would
  // be days of LoRA steps, and a LoRA learning rate on a frozen run would silently do nothing.
  const otherMode = {
    frozen: ['lora-steps', 'lr-lora', 'chunk', 'no-augment'],
    lora: ['steps', 'cache', 'precision'],
  } as const;
  const misplaced = otherMode[mode].filter((f) => values[f] !== undefined && values[f] !== false);
  if (misplaced.length > 0)
    throw new UsageError(`--${misplaced.join(', --')} ${misplaced.length > 1 ? 'are' : 'is'} not for --mode ${mode}`);
  const criterion = values.criterion as ThresholdCriterion;
  if (!THRESHOLD_CRITERIA.includes(criterion))
    throw new UsageError(`--criterion must be one of ${THRESHOLD_CRITERIA.join(', ')}`);
  const device = values.device ?? 'cpu';
  if (!isDevice(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}`);
  const release = values.release;
  if (release !== undefined && release !== 'v1' && release !== 'v2') throw new UsageError('--release must be v1 or v2');
  const optional = {
    release: release as CtRateRelease | undefined,
    augment: values['no-augment'] ? false : undefined,
    inputSize: positiveInt(values['input-size'], '--input-size'),
    steps: counts(mode === 'lora' ? values['lora-steps'] : values.steps, mode === 'lora' ? '--lora-steps' : '--steps'),
    batchSize: positiveInt(values.batch, '--batch'),
    limit: positiveInt(values.limit, '--limit'),
    threads: positiveInt(values.threads, '--threads'),
    chunk: positiveInt(values.chunk, '--chunk'),
    lrHead: rate(values['lr-head'], '--lr-head'),
    lrLora: rate(values['lr-lora'], '--lr-lora'),
    cache: values.cache,
    precision: precisionFlag(values.precision, '--precision'),
    spacing: values.spacing === undefined ? undefined : (numbers(values.spacing, 3, '--spacing') as Vec3),
  };
  await trainCtRate({
    ctRate: values['ct-rate'],
    backbone: values.backbone,
    output: values.output,
    mode,
    criterion,
    device,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    log: (line) => process.stderr.write(`vlm3d: ${line}\n`),
  });
  return 0;
}

/** Runs `vlm3d <command>` and returns the exit code; bad input is one line on stderr. */
export async function runVlm3d(argv: string[], out: Write = (t) => process.stdout.write(t)): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'validate') return await validate(rest, out);
    if (command === 'score') return await score(rest, out);
    if (command === 'run') return await run(rest);
    if (command === 'train') return await train(rest);
    if (command === 'package') return await pack(rest, out);
    if (command === undefined || command === '--help' || command === '-h') {
      out(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    if (error instanceof UsageError || isFlagError(error)) {
      process.stderr.write(`vlm3d: ${(error as Error).message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`vlm3d: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
