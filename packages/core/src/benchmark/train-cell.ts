import { readdir, rm } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { AugmentConfig } from '../augment/index.js';
import type { Backbone } from '../backbone/types.js';
import { foldAll, selectThresholds, type ThresholdCriterion } from '../metrics/calibration.js';
import { bootstrapIntervals, evaluate, type LabelledScores } from '../metrics/evaluate.js';
import { trainingCurveSpec, writePlot } from '../plot/index.js';
import type { TaskCard as PluginTask } from '../plugin/card.js';
import { loadPlugin, type Prediction } from '../plugin/load.js';
import { QUERY } from '../plugin/plugin-graph.js';
import { readPlugin } from '../plugin/store.js';
import type { VolumeCase } from '../train/backbone-trainer.js';
import { type CandidateRun, trainCandidates } from '../train/candidates.js';
import type { FeatureCase } from '../train/features.js';
import type { OptimOptions, Progress } from '../train/loop.js';
import type { BenchmarkMode, Candidate, CellPredictions, CellResult, DoneCell } from './results.js';

/** How every cell is trained, selected and scored. */
export interface CellSettings {
  /** Optimiser steps at which validation is scored, along one schedule as long as the largest. */
  steps: number[];
  /** The same for LoRA (each of its steps runs the backbone, so usually fewer). */
  loraSteps: number[];
  /** LoRA cells: nnU-Net-style 3D augmentation of every training use of a case (METHOD.md §5); absent: none. */
  augment?: { seed: number; config: AugmentConfig };
  optim: Partial<OptimOptions>;
  criterion: ThresholdCriterion;
  bootstrap: { iterations: number; seed: number };
  threads?: number;
}

/** A split as a cell sees it: for the frozen modes tokens, for LoRA volumes. */
export interface CellData {
  train: FeatureCase[] | VolumeCase[];
  val: FeatureCase[] | VolumeCase[];
  test: FeatureCase[] | VolumeCase[];
}

export interface CellArgs {
  mode: BenchmarkMode;
  /** The benchmark folder (results name plugins relative to it). */
  root: string;
  dir: string;
  key: string;
  task: PluginTask;
  backbone: Backbone;
  data: CellData;
  settings: CellSettings;
  onProgress?: (p: Progress & { candidate: number }) => void;
}

type Case = FeatureCase | VolumeCase;
const isVolume = (c: Case): c is VolumeCase => 'pixels' in c;

function labelled(labels: readonly string[], cases: readonly Case[], predictions: readonly Prediction[]) {
  const scores = labels.map((_, l) => predictions.map((p) => p.probabilities[l]!));
  const truth = labels.map((_, l) => cases.map((c) => c.labels[l]!));
  return { labels, scores, truth } satisfies LabelledScores;
}

/**
 * Trains one (task, backbone, mode) cell: one schedule, validation scored at every candidate
 * step, the best candidate's plugin kept, per-label thresholds chosen on validation, and the test
 * split scored once with bootstrap intervals. Training resumes from the cell's checkpoint.
 */
export async function trainCell(args: CellArgs): Promise<CellResult> {
  const { mode, task, backbone, settings } = args;
  const common = {
    format: 'anymc3d-benchmark-cell' as const,
    version: 1 as const,
    key: args.key,
    task: task.task,
    backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
    mode,
  };
  if (mode === 'lora' && backbone.loraTargets().length === 0) {
    return { ...common, status: 'not-supported', reason: `${backbone.card.name} has no LoRA targets` };
  }
  // A folder per cell key: candidates and checkpoints of a run with other settings are never taken as this run's.
  const work = join(args.dir, `run-${args.key.slice(0, 16)}`);
  for (const entry of await readdir(args.dir).catch(() => [] as string[])) {
    if (entry !== basename(work) && (entry.startsWith('run-') || entry.startsWith('step-') || entry === 'train'))
      await rm(join(args.dir, entry), { recursive: true, force: true });
  }
  const trainDir = join(work, 'train');
  const source =
    mode === 'lora'
      ? { backbone, cases: args.data.train as VolumeCase[] }
      : {
          features: args.data.train as FeatureCase[],
          backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
        };
  let predictSeconds = 0;
  const predictAll = async (dir: string, cases: readonly Case[]): Promise<Prediction[]> => {
    const started = Date.now();
    const plugin = await loadPlugin(dir, backbone, settings.threads ? { threads: settings.threads } : {});
    try {
      const out: Prediction[] = [];
      for (const c of cases) {
        if (isVolume(c)) {
          await c.load?.(); // an on-demand case reads itself first
          out.push(await plugin.predict(c.pixels, c.slices));
        } else out.push(await plugin.predictTokens(c.tokens, c.slices));
      }
      return out;
    } finally {
      await plugin.release();
      predictSeconds += (Date.now() - started) / 1000;
    }
  };
  let reached = false;
  let run: CandidateRun<ReturnType<typeof labelled>>;
  try {
    run = await trainCandidates({
      train: {
        source,
        task,
        options: settings.optim,
        checkpointEvery: 50,
        ...(settings.threads ? { threads: settings.threads } : {}),
      },
      steps: mode === 'lora' ? settings.loraSteps : settings.steps,
      trainDir,
      candidateDir: (step) => join(work, `step-${step}`),
      score: async (dir) => {
        const val = labelled(task.labels, args.data.val, await predictAll(dir, args.data.val));
        return { auroc: evaluate(val).macro.auroc, val };
      },
      onSaved: () => {
        reached = true;
      },
      ...(args.onProgress ? { onProgress: args.onProgress } : {}),
    });
  } catch (error) {
    // A backbone whose graph cannot be differentiated yet is a fact to report, not a failed suite.
    if (mode === 'lora' && !reached) {
      return { ...common, status: 'not-supported', reason: error instanceof Error ? error.message : String(error) };
    }
    throw error;
  }
  const trainSeconds = run.trainSeconds;
  // The probe's one-slice cases make its query inert (softmax over one slice is 1): not a parameter it trains.
  const queryLength =
    mode === 'probe' ? (await readPlugin(run.best.dir, common.backbone)).weights.get(QUERY) : undefined;
  const trainable = run.card.parameters.total - (queryLength?.data.length ?? 0);
  const scored: Candidate[] = run.candidates.map((c) => ({
    step: c.step,
    valAuroc: c.valAuroc,
    trainLoss: c.trainLoss,
  }));
  for (const c of run.candidates) if (c !== run.best) await rm(c.dir, { recursive: true, force: true });
  const chosen = run.best;
  // Multi-class decides by arg max over probabilities that sum to 1: no per-class thresholds.
  const multiclass = run.card.kind === 'multiclass';
  const thresholds = multiclass ? task.labels.map(() => null) : selectThresholds(chosen.val, settings.criterion);
  const raw = labelled(task.labels, args.data.test, await predictAll(chosen.dir, args.data.test));
  const folded = multiclass ? raw : { ...raw, scores: foldAll(raw.scores, thresholds) };
  const evaluation = evaluate(folded, 0.5);
  const intervals = bootstrapIntervals(folded, 0.5, settings.bootstrap);
  const predictions: CellPredictions = {
    ids: args.data.test.map((c) => c.id),
    scores: raw.scores,
    truth: raw.truth,
  };
  // How the cell's one schedule went, beside its result (the checkpoint and its loss log go next).
  const schedule = mode === 'lora' ? 'LoRA + query + head' : `${mode} head`;
  await writePlot(
    args.dir,
    'training-curve',
    trainingCurveSpec(
      [
        {
          name: schedule,
          losses: run.losses,
          candidates: scored.map((c) => ({ steps: c.step, valAuroc: c.valAuroc })),
        },
      ],
      { name: schedule, steps: chosen.step },
    ),
  );
  // The checkpoint is only needed to resume training; the cell keeps the chosen plugin.
  await rm(trainDir, { recursive: true, force: true });
  const done: DoneCell = {
    status: 'done',
    labels: [...task.labels],
    selection: {
      metric: 'auroc',
      candidates: scored,
      chosenStep: chosen.step,
      thresholds,
      criterion: settings.criterion,
    },
    test: {
      cases: evaluation.cases,
      positives: evaluation.positives,
      macro: evaluation.macro,
      perLabel: evaluation.perLabel,
      intervals,
    },
    predictions,
    parameters: { trainable },
    seconds: { train: trainSeconds, predict: predictSeconds },
    plugin: relative(args.root, chosen.dir),
  };
  return { ...common, ...done };
}
