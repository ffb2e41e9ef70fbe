import { NNUNET_AUGMENT } from '@anymc3d/core/augment';
import { tokenPrecision } from '@anymc3d/core/backbone';
import type { Device, Precision } from '@anymc3d/core/graph';
import { THRESHOLD_CRITERIA, type ThresholdCriterion } from '@anymc3d/core/metrics';
import { pluginBackbone } from '@anymc3d/core/plugin';
import { casesOf, pluginTaskOf, taskInput } from '@anymc3d/core/task';
import { InputError } from '@anymc3d/core/util';
import { type Fitted, fitLoraPlugin, fitPlugin, writeTrainingCurve } from '@anymc3d/core/workflows';
import type { CommandModule } from 'yargs';
import { extractTokens, featureCases } from '../pipeline/extract.js';
import { createProgress } from '../progress.js';
import { loadTaskInputs, parseCounts, parseRates, type TaskFlags, type TaskInputs, taskFlags } from './task-flags.js';

/** `frozen`: the plugin on cached frozen tokens. `lora`: LoRA + query + head through the backbone. */
export const TRAIN_MODES = ['frozen', 'lora'] as const;

/** Each mode's own flags and their defaults (the other mode's flags are refused, not ignored). */
export const TRAIN_DEFAULTS = {
  frozen: { steps: '300,1000', lr: '3e-2', 'batch-size': 32 },
  // The benchmark's LoRA defaults (lr-head, lr-lora); each LoRA step runs the backbone, so fewer steps and cases.
  lora: { 'lora-steps': '50,100,200', 'lr-lora': 1e-4, 'lr-head': 1e-3, chunk: 16, 'batch-size': 4, 'seg-hidden': 32 },
} as const;

const ONLY = {
  frozen: ['steps', 'lr', 'precision'],
  lora: ['lora-steps', 'lr-lora', 'lr-head', 'chunk', 'seg-lambda', 'seg-hidden', 'seg-labels', 'augment'],
} as const;

interface TrainArgs extends TaskFlags {
  mode: string;
  steps?: string;
  lr?: string;
  'lora-steps'?: string;
  'lr-lora'?: number;
  'lr-head'?: number;
  chunk?: number;
  'seg-lambda'?: number;
  'seg-labels'?: string;
  'seg-hidden'?: number;
  augment?: boolean;
  'batch-size'?: number;
  criterion: string;
  seed: number;
  precision?: string;
}

export const trainCommand: CommandModule<TaskFlags, TrainArgs> = {
  command: 'train',
  describe:
    'Train a plugin on the train split (frozen: on cached frozen tokens; lora: LoRA + query + head through the backbone); choose steps and thresholds on the val split',
  builder: (y) =>
    taskFlags(y)
      .option('mode', {
        type: 'string',
        default: 'lora',
        choices: [...TRAIN_MODES],
        describe:
          'lora (the method, default): LoRA (rank 8, α 16) + query + head through the backbone; frozen: the fast probe, plugin on cached frozen tokens',
      })
      .option('steps', {
        type: 'string',
        describe: `frozen: candidate step counts, each trained and chosen on val (default ${TRAIN_DEFAULTS.frozen.steps})`,
      })
      .option('lr', {
        type: 'string',
        describe: `frozen: learning rate(s) of the plugin (AdamW, cosine schedule); several, comma-separated, are chosen on val (default ${TRAIN_DEFAULTS.frozen.lr})`,
      })
      .option('lora-steps', {
        type: 'string',
        describe: `lora: candidate step counts along one schedule as long as the largest, chosen on val (default ${TRAIN_DEFAULTS.lora['lora-steps']})`,
      })
      .option('lr-lora', {
        type: 'number',
        describe: `lora: learning rate of the LoRA factors (default ${TRAIN_DEFAULTS.lora['lr-lora']})`,
      })
      .option('lr-head', {
        type: 'number',
        describe: `lora: learning rate of the head and query (default ${TRAIN_DEFAULTS.lora['lr-head']})`,
      })
      .option('chunk', {
        type: 'number',
        describe: `lora: slices per recompute chunk; bounds memory on any slice count, same gradients (default ${TRAIN_DEFAULTS.lora.chunk})`,
      })
      .option('seg-lambda', {
        type: 'number',
        describe:
          'lora: weight λ of the auxiliary seg loss (Dice+BCE of a train-only 3D decoder on patch tokens against the manifest masks; cases without a mask add none; the decoder is not saved)',
      })
      .option('seg-labels', {
        type: 'string',
        describe:
          "lora: the mask values that are the seg target, comma-separated (default: the task card's segLabels, else every value > 0; PANORAMA: 1, the lesion)",
      })
      .option('seg-hidden', {
        type: 'number',
        describe: `lora: hidden channels of the seg decoder (default ${TRAIN_DEFAULTS.lora['seg-hidden']}; needs --seg-lambda)`,
      })
      .option('batch-size', {
        type: 'number',
        describe: `Cases per optimiser step (default ${TRAIN_DEFAULTS.frozen['batch-size']} frozen, ${TRAIN_DEFAULTS.lora['batch-size']} lora)`,
      })
      .option('criterion', {
        type: 'string',
        default: 'f1',
        choices: [...THRESHOLD_CRITERIA],
        describe: 'Threshold criterion on val (crg: the pooled J that the VLM3D CRG score ranks by)',
      })
      .option('augment', {
        type: 'boolean',
        describe:
          'lora: nnU-Net-style 3D augmentation of every training use of a case (flips, rotation, scaling, noise, blur, brightness, contrast, low resolution, gamma; seeded, recorded in plugin.json); on by default, --no-augment to switch it off',
      })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of initialisation, batch order and augmentation' })
      .option('precision', {
        type: 'string',
        choices: ['fp32', 'int8'],
        describe:
          "frozen: the frozen backbone's arithmetic for the tokens (default: the backbone card's on the CPU, int8 for the shipped MobileNet v1, else fp32; int8: a uint8 TFLite MobileNet's integer network, or a ViT's dynamically quantised weight MatMuls). Recorded in plugin.json: predict and heatmap then compute tokens the same way",
      }),
  handler: async (a) => {
    const mode = a.mode as (typeof TRAIN_MODES)[number];
    const other = mode === 'lora' ? 'frozen' : 'lora';
    for (const flag of ONLY[other])
      if (a[flag] !== undefined) throw new InputError(`--${flag}`, `is a ${other}-mode flag; this is --mode ${mode}`);
    const batch = a['batch-size'] ?? TRAIN_DEFAULTS[mode]['batch-size'];
    if (!(Number.isInteger(batch) && batch > 0))
      throw new InputError('--batch-size', `must be a whole number > 0, got ${batch}`);
    const chunk = a.chunk ?? TRAIN_DEFAULTS.lora.chunk;
    if (!(Number.isInteger(chunk) && chunk > 0))
      throw new InputError('--chunk', `must be a whole number of slices > 0, got ${chunk}`);
    // Parsed before any heavy work, so a typo fails at once.
    const steps = parseCounts(
      mode === 'lora'
        ? (a['lora-steps'] ?? TRAIN_DEFAULTS.lora['lora-steps'])
        : (a.steps ?? TRAIN_DEFAULTS.frozen.steps),
      mode === 'lora' ? '--lora-steps' : '--steps',
    );
    const lrs = mode === 'frozen' ? parseRates(a.lr ?? TRAIN_DEFAULTS.frozen.lr, '--lr') : [];
    const lrLora = a['lr-lora'] ?? TRAIN_DEFAULTS.lora['lr-lora'];
    const lrHead = a['lr-head'] ?? TRAIN_DEFAULTS.lora['lr-head'];
    for (const [flag, v] of [
      ['--lr-lora', lrLora],
      ['--lr-head', lrHead],
    ] as const)
      if (!(Number.isFinite(v) && v > 0)) throw new InputError(flag, `must be a number > 0, got ${v}`);
    const seg = segOption(a);
    const t = await loadTaskInputs(a);
    if (mode === 'lora' && t.backbone.loraTargets().length === 0)
      throw new InputError(a.backbone, `${t.backbone.card.name} has no LoRA targets; train it with --mode frozen`);
    const train = casesOf(t.manifest, 'train');
    if (seg && !train.some((c) => c.mask))
      throw new InputError(a.manifest, 'no train case has a mask; --seg-lambda needs a mask column (or drop the flag)');
    if (seg && t.backbone.card.patchSize === undefined)
      throw new InputError(a.backbone, `${t.backbone.card.name} has no patch tokens for --seg-lambda's decoder`);
    const val = casesOf(t.manifest, 'val');
    const progress = createProgress({ enabled: a.progress, quiet: a.quiet });
    const started = Date.now();
    try {
      const common = { a, t, train, val, batch, report: progress.report };
      const fitted =
        mode === 'lora'
          ? await fitLora({
              ...common,
              steps,
              chunk,
              lrLora,
              lrHead,
              ...(seg ? { seg: segTarget(seg, t.manifest.card.segLabels) } : {}),
            })
          : await fitFrozen({ ...common, steps, lrs });
      const curve = await writeTrainingCurve(t.outDir, fitted, mode === 'lora' ? 'lora' : 'frozen');
      progress.stop();
      if (!a.quiet) {
        const tried = fitted.attempts.map(
          (x) => `${x.lr === undefined ? '' : `lr ${x.lr} × `}${x.steps} steps AUC=${x.valAuroc?.toFixed(3) ?? 'n/a'}`,
        );
        const chosen = `${fitted.chosen.lr === undefined ? '' : `lr ${fitted.chosen.lr}, `}${fitted.chosen.steps} steps`;
        process.stdout.write(
          `${mode === 'lora' ? 'lora, ' : ''}val (${val.length} cases): ${tried.join(', ')} → ${chosen}; ` +
            `thresholds ${fitted.thresholds.map((x) => x?.toFixed(3) ?? '0.5 (one class in val)').join(', ')}\n` +
            `plugin → ${fitted.pluginDir} (${((Date.now() - started) / 1000).toFixed(1)} s); training curve → ${curve.png}\n`,
        );
      }
    } finally {
      progress.stop();
    }
  },
};

interface ModeArgs {
  a: TrainArgs;
  t: TaskInputs;
  train: TaskInputs['manifest']['cases'];
  val: TaskInputs['manifest']['cases'];
  batch: number;
  steps: number[];
  report: ReturnType<typeof createProgress>['report'];
}

async function fitFrozen(m: ModeArgs & { lrs: number[] }): Promise<Fitted> {
  const { a, t } = m;
  const card = t.manifest.card;
  const precision = tokenPrecision(t.backbone.card, a.device, a.precision as Precision | undefined);
  const extracted = await extractTokens([...m.train, ...m.val], {
    input: taskInput(card, t.inputSize),
    backbone: t.backbone,
    cacheRoot: t.cacheRoot,
    device: a.device as Device,
    ...(a.threads ? { threads: a.threads } : {}),
    precision,
    report: m.report,
  });
  return fitPlugin({
    task: pluginTaskOf(card, t.inputSize),
    backbone: pluginBackbone(t.backbone, precision),
    train: featureCases(m.train, extracted.tokens, card),
    val: featureCases(m.val, extracted.tokens, card),
    steps: m.steps,
    lrs: m.lrs,
    optim: { batchSize: m.batch, warmup: Math.min(20, Math.min(...m.steps)), seed: a.seed },
    criterion: a.criterion as ThresholdCriterion,
    outDir: t.outDir,
    data: t.manifest.source,
    ...(a.threads ? { threads: a.threads } : {}),
    report: m.report,
  });
}

/** `--seg-lambda` / `--seg-hidden` as core's seg option (undefined without --seg-lambda), checked before heavy work. */
function segOption(a: TrainArgs): { hidden: number; lambda: number; labelsFlag?: number[] } | undefined {
  const lambda = a['seg-lambda'];
  if (lambda === undefined) {
    if (a['seg-hidden'] !== undefined) throw new InputError('--seg-hidden', 'needs --seg-lambda');
    if (a['seg-labels'] !== undefined) throw new InputError('--seg-labels', 'needs --seg-lambda');
    return undefined;
  }
  if (!(Number.isFinite(lambda) && lambda >= 0))
    throw new InputError('--seg-lambda', `must be a number ≥ 0, got ${lambda}`);
  const hidden = a['seg-hidden'] ?? TRAIN_DEFAULTS.lora['seg-hidden'];
  if (!(Number.isInteger(hidden) && hidden > 0))
    throw new InputError('--seg-hidden', `must be a whole number > 0, got ${hidden}`);
  if (a['seg-labels'] === undefined) return { hidden, lambda };
  const labels = a['seg-labels'].split(',').map((x) => Number(x.trim()));
  if (labels.length === 0 || labels.some((x) => !(Number.isInteger(x) && x > 0)))
    throw new InputError('--seg-labels', `must be mask values > 0, comma-separated, got "${a['seg-labels']}"`);
  return { hidden, lambda, labelsFlag: labels };
}

async function fitLora(
  m: ModeArgs & {
    chunk: number;
    lrLora: number;
    lrHead: number;
    seg?: { hidden: number; lambda: number; labels?: number[] };
  },
): Promise<Fitted> {
  const { a, t } = m;
  const total = Math.max(...m.steps);
  return fitLoraPlugin({
    task: pluginTaskOf(t.manifest.card, t.inputSize),
    backbone: t.backbone,
    train: m.train,
    val: m.val,
    steps: m.steps,
    chunk: m.chunk,
    ...(m.seg ? { seg: m.seg } : {}),
    // Warm-up: a tenth of the schedule, at most the frozen mode's 20 steps.
    optim: {
      batchSize: m.batch,
      lrLora: m.lrLora,
      lrHead: m.lrHead,
      warmup: Math.min(20, Math.floor(total / 10)),
      seed: a.seed,
    },
    criterion: a.criterion as ThresholdCriterion,
    // The method's training recipe: augmentation on unless switched off.
    ...(a.augment === false ? {} : { augment: { seed: a.seed, config: NNUNET_AUGMENT } }),
    outDir: t.outDir,
    data: t.manifest.source,
    device: a.device as Device,
    ...(a.threads ? { threads: a.threads } : {}),
    report: m.report,
    // The method costs a backbone pass forward and back per case and step: say up front what the run will take.
    ...(a.quiet ? {} : { note: (line: string) => process.stderr.write(`anymc3d: ${line}\n`) }),
  });
}

/** The seg option with its target labels: the flag, else the task card's, else every value > 0. */
function segTarget(
  seg: { hidden: number; lambda: number; labelsFlag?: number[] },
  cardLabels: number[] | undefined,
): { hidden: number; lambda: number; labels?: number[] } {
  const labels = seg.labelsFlag ?? cardLabels;
  return { hidden: seg.hidden, lambda: seg.lambda, ...(labels ? { labels } : {}) };
}
