import { basename } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { NNUNET_AUGMENT } from '@anymc3d/core/augment';
import { tokenPrecision } from '@anymc3d/core/backbone';
import { type CtRateRelease, ctRateLayout, readCtRate } from '@anymc3d/core/datasets';
import type { Device, Precision } from '@anymc3d/core/graph';
import type { ThresholdCriterion } from '@anymc3d/core/metrics';
import { type PluginCard, type PluginInput, pluginBackbone, readPlugin, type TaskCard } from '@anymc3d/core/plugin';
import { taskCard, taskInput } from '@anymc3d/core/task';
import { InputError } from '@anymc3d/core/util';
import { type Fitted, fitLoraPlugin, fitPlugin, writeTrainingCurve } from '@anymc3d/core/workflows';
import { readRescaleTable } from './metadata.js';
import type { Rescale } from './preprocess.js';
import { frozenTokens } from './train-tokens.js';
import { CHEST_WINDOWS, type Vlm3dSettings } from './weights.js';

/** `frozen`: the plugin on cached frozen tokens. `lora`: LoRA (rank 8, α 16) + query + head through the backbone. */
export const TRAIN_MODES = ['frozen', 'lora'] as const;
export type TrainMode = (typeof TRAIN_MODES)[number];

/** Steps and cases per step when not given: a LoRA case runs the backbone forward and back, a frozen one does not. */
export const TRAIN_DEFAULTS = {
  frozen: { steps: 2000, batchSize: 32 },
  lora: { steps: 500, batchSize: 4, chunk: 16 },
} as const;

export interface TrainOptions {
  /** A CT-RATE download (the folder holding `dataset/`). */
  ctRate: string;
  /** A backbone folder or registry name. */
  backbone: string;
  /** Plugin folder to write (a checkpoint there from an interrupted run of the same settings is resumed). */
  output: string;
  /** Default `lora`: the method (LoRA + query + head through the backbone); `frozen` is the fast probe. */
  mode?: TrainMode;
  /** LoRA mode: nnU-Net-style 3D augmentation of every case use (default true). */
  augment?: boolean;
  /** Which CT-RATE release to read when the download holds both (otherwise found from its folders). */
  release?: CtRateRelease;
  /** Token cache folder (frozen mode; reused across runs; keyed by backbone and preprocessing). */
  cache?: string;
  inputSize?: number;
  spacing?: Vlm3dSettings['spacing'];
  /** Candidate step counts along the mode's one schedule, the best on val kept (default per mode, TRAIN_DEFAULTS). */
  steps?: number[];
  batchSize?: number;
  lrHead?: number;
  /** Learning rate of the LoRA factors (LoRA mode; core's default otherwise). */
  lrLora?: number;
  /** Slices per recompute chunk (LoRA mode): the same gradients with memory bounded on any slice count. */
  chunk?: number;
  criterion?: ThresholdCriterion;
  /** Use only the first N train and N val cases (dry runs). */
  limit?: number;
  /** Where the frozen backbone embeds (frozen mode); LoRA training runs on the CPU. */
  device?: Device;
  /**
   * The frozen backbone's arithmetic (frozen mode; default: the card's on the CPU, as `anymc3d
   * train --mode frozen`), recorded in the plugin's card.
   */
  precision?: Precision;
  threads?: number;
  log?: (line: string) => void;
}

/**
 * Trains the 18-label CT-RATE plugin through core's workflows, as `anymc3d train` does: every
 * train/val volume prepared by the recipe exactly as `run` prepares it; in LoRA mode (default) read
 * on demand and LoRA + query + head trained through the backbone (`fitLoraPlugin`), in frozen mode
 * embedded once into the one feature cache and the plugin trained on those tokens (`fitPlugin`).
 * Candidates along one schedule are scored on the val split, the best kept, and each label's
 * threshold chosen there (CRG by default) and written into the card, so the packaged model's folded
 * probabilities put the scorer's 0.5 at that operating point.
 */
export async function trainCtRate(options: TrainOptions): Promise<PluginCard> {
  const log = options.log ?? (() => {});
  const mode = options.mode ?? 'lora';
  const catalogue = await taskCard('ct-rate');
  const layout = await ctRateLayout(options.ctRate, options.release);
  // v1 stores raw values: each volume gets its metadata rescale. v2 is HU: no table at all, so
  // nothing can be applied twice (toHounsfield also never rescales voxels that are HU already).
  const rescales = new Map<string, Rescale>();
  if (layout.release === 'v1') {
    for (const table of layout.metadata) for (const [k, v] of await readRescaleTable(table)) rescales.set(k, v);
  }
  log(
    `CT-RATE ${layout.release} (${layout.folders.join(', ')} under ${layout.dataset}): ` +
      (layout.release === 'v2'
        ? 'volumes already in HU, no rescale applied'
        : `raw volumes rescaled by ${layout.metadata.length > 0 ? layout.metadata.join(', ') : 'no metadata table (found none; raw volumes will be refused)'}`),
  );
  const manifest = await readCtRate(options.ctRate, catalogue, { fixed: layout.release === 'v2' });
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const train = manifest.cases.filter((c) => c.split === 'train').slice(0, limit);
  const val = manifest.cases.filter((c) => c.split === 'val').slice(0, limit);
  if (train.length === 0 || val.length === 0)
    throw new InputError(options.ctRate, `need train and val cases (got ${train.length} and ${val.length})`);
  const backbone = await resolveBackbone(options.backbone);
  const size = options.inputSize ?? backbone.card.inputSize[0];
  // The catalogue card's recipe (CT in HU, LPS, 1.5×1.5×3 mm, the chest windows) at this size, as
  // `anymc3d features|train -t ct-rate.json` prepares cases: both find each other's cached tokens.
  const input: PluginInput = {
    ...taskInput(catalogue, [size, size]),
    ...(options.spacing ? { spacing: [...options.spacing] } : {}),
  };
  const task: TaskCard = {
    task: 'ct-rate-18',
    kind: 'multilabel',
    labels: [...catalogue.labels],
    views: ['axial'],
    axis: 'axial',
    windows: CHEST_WINDOWS,
    inputSize: [size, size],
    input,
  };
  const rescaleOf = (path: string) => rescales.get(basename(path).replace(/\.nii(\.gz)?$/i, ''));
  const id = { name: backbone.card.name, weightHash: backbone.weightHash };
  const chunk = options.chunk ?? TRAIN_DEFAULTS.lora.chunk;
  if (mode === 'lora') {
    if (options.cache)
      throw new InputError(options.cache, 'a token cache is for frozen mode (LoRA changes the tokens)');
    if (backbone.loraTargets().length === 0)
      throw new InputError(options.backbone, `${backbone.card.name} has no LoRA targets`);
    // The one LoRA fit workflow `anymc3d train` runs: core's case source (the recipe's preparation,
    // a fresh augmentation per training use), one schedule as long as the largest candidate step
    // count, each candidate scored on val (macro AUROC) and the best kept, thresholds chosen there.
    const candidates = options.steps ?? [TRAIN_DEFAULTS.lora.steps];
    const batchSize = options.batchSize ?? TRAIN_DEFAULTS.lora.batchSize;
    const total = Math.max(...candidates);
    log(
      `lora training on ${train.length} train cases: ${total} steps × ${batchSize} cases (candidates ${candidates.join(', ')} ` +
        `scored on ${val.length} val cases), volumes read on demand, recompute chunks of ${chunk} slices`,
    );
    const started = Date.now();
    const fitted = await fitLoraPlugin({
      task: { ...task, input },
      backbone,
      train,
      val,
      steps: candidates,
      chunk,
      optim: {
        batchSize,
        ...(options.lrHead ? { lrHead: options.lrHead } : {}),
        ...(options.lrLora ? { lrLora: options.lrLora } : {}),
        warmup: Math.min(100, Math.floor(total / 10)),
      },
      criterion: options.criterion ?? 'crg',
      ...(options.augment === false ? {} : { augment: { seed: 0, config: NNUNET_AUGMENT } }),
      outDir: options.output,
      pluginDir: options.output,
      data: `${options.ctRate} (CT-RATE, ${train.length} train cases)`,
      rescaleOf,
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.device ? { device: options.device } : {}),
      report: (e) => {
        if (e.done === e.total || e.done % 10 === 0)
          log(`${e.stage}: ${e.done}/${e.total}${e.detail ? ` ${e.detail}` : ''}`);
      },
      note: log,
    });
    const curve = await writeTrainingCurve(options.output, fitted, 'lora');
    log(
      `lora training: ${((Date.now() - started) / 1000).toFixed(1)} s; ${chosenOnVal(fitted, options, val.length)}; curve ${curve.png}`,
    );
    return (await readPlugin(options.output, { name: backbone.card.name, weightHash: backbone.weightHash })).card;
  } else {
    if (options.lrLora !== undefined || options.chunk !== undefined)
      throw new Error('lrLora and chunk are LoRA-mode options');
    const precision = tokenPrecision(backbone.card, options.device ?? 'cpu', options.precision);
    const tokens = await frozenTokens({
      backbone,
      input,
      train,
      val,
      rescaleOf,
      log,
      precision,
      ...(options.cache ? { cacheRoot: options.cache } : {}),
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
    });
    log(
      `frozen tokens (${precision}): ${tokens.computed} volume(s) through the backbone` +
        (tokens.cacheDir ? `, the rest from ${tokens.cacheDir}` : ''),
    );
    // The one frozen fit (anymc3d train --mode frozen's): one schedule, a candidate at each of
    // --steps scored on val, the best kept, thresholds chosen there.
    const candidates = options.steps ?? [TRAIN_DEFAULTS.frozen.steps];
    const batchSize = options.batchSize ?? TRAIN_DEFAULTS.frozen.batchSize;
    const total = Math.max(...candidates);
    log(
      `frozen training on ${train.length} train cases: ${total} steps × ${batchSize} cases (candidates ${candidates.join(', ')})`,
    );
    const started = Date.now();
    const fitted = await fitPlugin({
      task,
      backbone: pluginBackbone(backbone, precision),
      train: tokens.train,
      val: tokens.val,
      steps: candidates,
      optim: {
        batchSize,
        ...(options.lrHead ? { lrHead: options.lrHead } : {}),
        warmup: Math.min(100, Math.floor(total / 10)),
      },
      criterion: options.criterion ?? 'crg',
      outDir: options.output,
      pluginDir: options.output,
      data: `${options.ctRate} (CT-RATE, ${train.length} train cases)`,
      ...(options.threads ? { threads: options.threads } : {}),
      report: (e) => {
        if (e.done === e.total || e.done % 50 === 0)
          log(`${e.stage}: ${e.done}/${e.total}${e.detail ? ` ${e.detail}` : ''}`);
      },
    });
    const curve = await writeTrainingCurve(options.output, fitted, 'frozen');
    log(
      `frozen training: ${((Date.now() - started) / 1000).toFixed(1)} s; ${chosenOnVal(fitted, options, val.length)}; curve ${curve.png}`,
    );
    return (await readPlugin(options.output, id)).card;
  }
}

/** What val chose, as the log says it: every candidate's AUROC, the one kept, where its thresholds went. */
function chosenOnVal(fitted: Fitted, options: TrainOptions, valCases: number): string {
  return (
    `val: ${fitted.attempts.map((a) => `${a.steps} steps AUC=${a.valAuroc?.toFixed(3) ?? 'n/a'}`).join(', ')} → ` +
    `${fitted.chosen.steps} steps; thresholds (${options.criterion ?? 'crg'} on ${valCases} val cases) written to ` +
    `${options.output}/plugin.json`
  );
}
