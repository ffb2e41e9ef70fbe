import { join } from 'node:path';
import type { Backbone } from '@anymc3d/core/backbone';
import type { Device, Precision } from '@anymc3d/core/graph';
import {
  bootstrapIntervals,
  type Evaluation,
  type EvaluationIntervals,
  evaluate,
  type ThresholdCriterion,
} from '@anymc3d/core/metrics';
import { pluginBackbone } from '@anymc3d/core/plugin';
import { casesOf, type Manifest, pluginTaskOf, type Split, taskInput } from '@anymc3d/core/task';
import type { OptimOptions } from '@anymc3d/core/train';
import { InputError } from '@anymc3d/core/util';
import { byLabel, type Fitted, fitPlugin, foldRows, predictCases, writeTrainingCurve } from '@anymc3d/core/workflows';
import type { ProgressSink } from '../progress.js';
import { extractTokens, featureCases } from './extract.js';
import { pluginHash, writePredictions } from './outputs.js';

export interface RunTaskOptions {
  manifest: Manifest;
  backbone: Backbone;
  inputSize: [number, number];
  outDir: string;
  cacheRoot: string;
  steps: number[];
  /** Candidate head learning rates, chosen on val with the steps (default: `optim.lrHead`). */
  lrs?: number[];
  optim?: Partial<OptimOptions>;
  criterion: ThresholdCriterion;
  /** The split predicted and scored once at the end (default test). */
  evalSplit?: Split;
  bootstrap?: number;
  threads?: number;
  device?: Device;
  /** The frozen backbone's arithmetic for the tokens (default fp32); cached apart and recorded. */
  precision?: Precision;
  report?: ProgressSink;
}

export interface TaskRun {
  fitted: Fitted;
  evaluation: Evaluation;
  intervals: EvaluationIntervals | null;
  predictionFiles: string[];
  seconds: { features: number; train: number; predict: number; total: number };
  computedEntries: number;
}

/**
 * The whole job on a task: frozen tokens for every case (cached), plugins trained on `train`,
 * the step count and thresholds chosen on `val`, then one prediction (and, with labels, one
 * evaluation) of the evaluation split, written with provenance.
 */
export async function runTask(o: RunTaskOptions): Promise<TaskRun> {
  const t0 = Date.now();
  const card = o.manifest.card;
  const evalSplit = o.evalSplit ?? 'test';
  const split = (s: Split) => casesOf(o.manifest, s);
  const train = split('train');
  const val = split('val');
  const held = split(evalSplit);
  if (train.length === 0) throw new InputError(o.manifest.source, 'has no train cases');
  if (val.length === 0)
    throw new InputError(o.manifest.source, 'has no val cases (they choose the steps and thresholds)');
  if (held.length === 0) throw new InputError(o.manifest.source, `has no ${evalSplit} cases`);
  const input = taskInput(card, o.inputSize);
  const all = [...train, ...val, ...held];
  const extracted = await extractTokens(all, {
    input,
    backbone: o.backbone,
    cacheRoot: o.cacheRoot,
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.device ? { device: o.device } : {}),
    ...(o.precision ? { precision: o.precision } : {}),
    ...(o.report ? { report: o.report } : {}),
  });
  const t1 = Date.now();
  const backboneId = pluginBackbone(o.backbone, o.precision);
  const fitted = await fitPlugin({
    task: pluginTaskOf(card, o.inputSize),
    backbone: backboneId,
    train: featureCases(train, extracted.tokens, card),
    val: featureCases(val, extracted.tokens, card),
    steps: o.steps,
    ...(o.lrs ? { lrs: o.lrs } : {}),
    criterion: o.criterion,
    outDir: o.outDir,
    data: o.manifest.source,
    ...(o.optim ? { optim: o.optim } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.report ? { report: o.report } : {}),
  });
  await writeTrainingCurve(o.outDir, fitted, 'frozen');
  const t2 = Date.now();
  const heldCases = featureCases(held, extracted.tokens, card);
  const thresholds = fitted.thresholds.map((t) => t ?? 0.5);
  const rows = foldRows(
    await predictCases(fitted.pluginDir, backboneId, heldCases, o.threads),
    thresholds,
    card.kind === 'multiclass' ? 'multiclass' : 'multilabel',
  );
  const t3 = Date.now();
  const labelled = {
    labels: card.labels,
    scores: byLabel(rows, card.labels.length),
    truth: byLabel(
      heldCases.map((c) => c.labels),
      card.labels.length,
    ),
  };
  const evaluation = evaluate(labelled, 0.5);
  const intervals = o.bootstrap ? bootstrapIntervals(labelled, 0.5, { iterations: o.bootstrap, seed: 0 }) : null;
  const seconds = {
    features: (t1 - t0) / 1000,
    train: (t2 - t1) / 1000,
    predict: (t3 - t2) / 1000,
    total: (Date.now() - t0) / 1000,
  };
  const predictionFiles = await writePredictions(
    join(o.outDir, evalSplit),
    { labels: card.labels, ids: held.map((c) => c.id), probabilities: rows, multiclass: card.kind === 'multiclass' },
    {
      task: card.id,
      manifest: o.manifest.source,
      split: evalSplit,
      backbone: { ...backboneId, inputSize: o.inputSize, precision: o.precision ?? 'fp32' },
      views: input.views,
      plugin: { dir: fitted.pluginDir, sha256: await pluginHash(fitted.pluginDir) },
      selection: {
        on: 'val',
        attempts: fitted.attempts.map((a) => ({ lr: a.lr ?? null, steps: a.steps, valAuroc: a.valAuroc })),
        chosenSteps: fitted.chosen.steps,
        chosenLr: fitted.chosen.lr ?? null,
        thresholdCriterion: o.criterion,
        thresholds,
      },
      featureCache: extracted.cacheDir,
      timing: { seconds, backboneEntriesComputed: extracted.computed },
    },
  );
  return { fitted, evaluation, intervals, predictionFiles, seconds, computedEntries: extracted.computed };
}
