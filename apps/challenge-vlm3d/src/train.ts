import { basename } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { NNUNET_AUGMENT } from '@anymc3d/core/augment';
import { type CtRateRelease, ctRateLayout, readCtRate } from '@anymc3d/core/datasets';
import type { Device } from '@anymc3d/core/graph';
import { auroc, selectThresholds, type ThresholdCriterion } from '@anymc3d/core/metrics';
import {
  type LoadedPlugin,
  loadPlugin,
  type PluginCard,
  type PluginInput,
  type Prediction,
  readPlugin,
  savePlugin,
  type TaskCard,
} from '@anymc3d/core/plugin';
import { taskCard, taskInput } from '@anymc3d/core/task';
import { type TrainSource, trainPlugin } from '@anymc3d/core/train';
import { InputError } from '@anymc3d/core/util';
import { fitLoraPlugin } from '@anymc3d/core/workflows';
import { readRescaleTable } from './metadata.js';
import type { Rescale } from './preprocess.js';
import { frozenTokens } from './train-tokens.js';
import { CHEST_WINDOWS_CW, type Vlm3dSettings } from './weights.js';

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
  /** Optimiser steps (default per mode, TRAIN_DEFAULTS). */
  steps?: number;
  /** LoRA mode: candidate step counts along one schedule, the best on val kept (default: `steps`). */
  loraSteps?: number[];
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
  threads?: number;
  log?: (line: string) => void;
}

/** What frozen training and its threshold selection need (LoRA runs core's fit workflow). */
interface ModeData {
  source: TrainSource;
  valCount: number;
  valLabels: (k: number) => readonly number[];
  /** Val case k's tokens through the freshly trained plugin. */
  predictVal: (plugin: LoadedPlugin, k: number) => Promise<Prediction>;
  checkpointEvery: number;
  logEvery: number;
}

/**
 * Trains the 18-label CT-RATE plugin: every train/val volume prepared exactly as `run` prepares
 * it; in frozen mode embedded once (cached) and the plugin trained on those tokens, in LoRA mode
 * read on demand and LoRA + query + head trained through the backbone (core's trainPlugin, chunked
 * recompute). Then each label's threshold is chosen on the val split and written into the card, so
 * the packaged model's folded probabilities put the scorer's 0.5 at that operating point.
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
    windows: CHEST_WINDOWS_CW,
    inputSize: [size, size],
    input,
  };
  const rescaleOf = (path: string) => rescales.get(basename(path).replace(/\.nii(\.gz)?$/i, ''));
  const id = { name: backbone.card.name, weightHash: backbone.weightHash };
  const defaults = TRAIN_DEFAULTS[mode];
  const chunk = options.chunk ?? TRAIN_DEFAULTS.lora.chunk;
  let data: ModeData;
  if (mode === 'lora') {
    if (options.cache)
      throw new InputError(options.cache, 'a token cache is for frozen mode (LoRA changes the tokens)');
    if (backbone.loraTargets().length === 0)
      throw new InputError(options.backbone, `${backbone.card.name} has no LoRA targets`);
    // The one LoRA fit workflow `anymc3d train` runs: core's case source (the recipe's preparation,
    // a fresh augmentation per training use), one schedule as long as the largest candidate step
    // count, each candidate scored on val (macro AUROC) and the best kept, thresholds chosen there.
    const candidates = options.loraSteps ?? [options.steps ?? TRAIN_DEFAULTS.lora.steps];
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
    log(
      `lora training: ${((Date.now() - started) / 1000).toFixed(1)} s; val: ` +
        fitted.attempts.map((a) => `${a.steps} steps AUC=${a.valAuroc?.toFixed(3) ?? 'n/a'}`).join(', ') +
        ` → ${fitted.chosen.steps} steps; thresholds (${options.criterion ?? 'crg'} on ${val.length} val cases) written to ${options.output}/plugin.json`,
    );
    return (await readPlugin(options.output, { name: backbone.card.name, weightHash: backbone.weightHash })).card;
  } else {
    if (options.lrLora !== undefined || options.chunk !== undefined)
      throw new Error('lrLora and chunk are LoRA-mode options');
    const tokens = await frozenTokens({
      backbone,
      input,
      train,
      val,
      rescaleOf,
      log,
      ...(options.cache ? { cacheRoot: options.cache } : {}),
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
    });
    log(
      `frozen tokens: ${tokens.computed} volume(s) through the backbone` +
        (tokens.cacheDir ? `, the rest from ${tokens.cacheDir}` : ''),
    );
    data = {
      source: { features: tokens.train, backbone: id },
      valCount: tokens.val.length,
      valLabels: (k) => tokens.val[k]!.labels,
      predictVal: (plugin, k) => plugin.predictTokens(tokens.val[k]!.tokens, tokens.val[k]!.slices),
      checkpointEvery: 50,
      logEvery: 50,
    };
  }
  const steps = options.steps ?? defaults.steps;
  const batchSize = options.batchSize ?? defaults.batchSize;
  log(`frozen training on ${train.length} train cases: ${steps} steps × ${batchSize} cases`);
  const started = Date.now();
  const trained = await trainPlugin({
    source: data.source,
    task,
    outDir: options.output,
    options: {
      steps,
      batchSize,
      ...(options.lrHead ? { lrHead: options.lrHead } : {}),
      ...(options.lrLora ? { lrLora: options.lrLora } : {}),
      warmup: Math.min(100, Math.floor(steps / 10)),
    },
    data: `${options.ctRate} (CT-RATE, ${train.length} train cases)`,
    checkpointEvery: data.checkpointEvery,
    ...(options.threads ? { threads: options.threads } : {}),
    onProgress: (p) => {
      if (p.step % data.logEvery === 0 || p.step === p.totalSteps)
        log(
          `step ${p.step}/${p.totalSteps}: loss ${p.loss.toFixed(4)}, ${p.casesPerSecond.toFixed(2)} cases/s, eta ${p.etaSeconds.toFixed(0)} s`,
        );
    },
  });
  const trainedSteps = trained.card.training.steps - trained.resumedFrom;
  log(
    `frozen training: ${trainedSteps} step(s) in ${((Date.now() - started) / 1000).toFixed(1)} s` +
      (trained.resumedFrom > 0 ? ` (resumed from the checkpoint at step ${trained.resumedFrom})` : ''),
  );
  // Thresholds and validation AUROC from the val split.
  const plugin = await loadPlugin(options.output, id, options.threads ? { threads: options.threads } : {});
  const L = task.labels.length;
  const scores = task.labels.map(() => new Float64Array(data.valCount));
  const truth = task.labels.map(() => new Uint8Array(data.valCount));
  try {
    for (let i = 0; i < data.valCount; i++) {
      const { probabilities } = await data.predictVal(plugin, i);
      const labels = data.valLabels(i);
      for (let l = 0; l < L; l++) {
        scores[l]![i] = probabilities[l]!;
        truth[l]![i] = labels[l]!;
      }
    }
  } finally {
    await plugin.release();
  }
  // CRG at a fixed 0.5 is what the 2026 challenge ranks by.
  const criterion = options.criterion ?? 'crg';
  const chosen = selectThresholds({ scores, truth }, criterion);
  const card: PluginCard = {
    ...plugin.card,
    thresholds: chosen.map((t, l) => t ?? plugin.card.thresholds[l] ?? 0.5),
    metrics: Object.fromEntries(
      task.labels.flatMap((label, l) => {
        const a = auroc(scores[l]!, truth[l]!);
        return a === null || Number.isNaN(a) ? [] : [[`val_auroc/${label}`, a]];
      }),
    ),
  };
  card.training = { ...card.training, options: { ...card.training.options, thresholdsOn: val.length } };
  // The whole recipe (HU, LPS, spacing, windows) is the card's input: every consumer reads it there.
  await savePlugin(options.output, card, plugin.weights);
  log(`thresholds (${criterion} on ${val.length} val cases) written to ${options.output}/plugin.json`);
  return card;
}
