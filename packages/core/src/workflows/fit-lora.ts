import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AugmentConfig } from '../augment/index.js';
import type { Backbone } from '../backbone/index.js';
import type { Device } from '../graph/index.js';
import { evaluate, selectThresholds, type ThresholdCriterion } from '../metrics/index.js';
import {
  inputViews,
  type PluginInput,
  type TaskCard as PluginTask,
  pluginInput,
  readPlugin,
  savePlugin,
} from '../plugin/index.js';
import type { ManifestCase } from '../task/index.js';
import { type OptimOptions, trainCandidates } from '../train/index.js';
import type { Rescale } from '../volume/index.js';
import { adaptedPredictions } from './adapted.js';
import { byLabel, type Fitted, type WorkflowProgressSink } from './fit-result.js';
import { volumeCases } from './volume-cases.js';

export interface FitLoraOptions {
  task: PluginTask;
  backbone: Backbone;
  train: readonly ManifestCase[];
  val: readonly ManifestCase[];
  /** Candidate step counts: one schedule as long as the largest, scored on val at each. */
  steps: number[];
  optim: Partial<OptimOptions>;
  /** Slices per recompute chunk (bounded memory on any slice count, the same gradients). */
  chunk: number;
  /**
   * The train-only seg decoder (hidden channels, loss weight λ) on the cases with a manifest `mask`;
   * the others add no seg loss. Dropped from the written plugin.
   */
  seg?: { hidden: number; lambda: number; labels?: number[] };
  criterion: ThresholdCriterion;
  /**
   * nnU-Net-style 3D augmentation of every training use of a case (METHOD.md §5), seeded; recorded
   * in plugin.json's input. Absent: none.
   */
  augment?: { seed: number; config: AugmentConfig };
  outDir: string;
  data?: string;
  threads?: number;
  device?: Device;
  report?: WorkflowProgressSink;
  /** The rescale of a raw CT file (CT-RATE v1's metadata), for reading train and val cases. */
  rescaleOf?: (path: string) => Rescale | undefined;
  /** Where the kept plugin is written (default `<outDir>/plugin`). */
  pluginDir?: string;
  /** One-off lines for the user (the estimate from the timed first step). */
  note?: (line: string) => void;
}

/**
 * LoRA + query + head through the backbone on `train` (volumes read on demand, prepared as the
 * frozen path prepares them), with core's candidate schedule (the benchmark's): one run as long as
 * the largest of `steps`, a plugin saved and scored on `val` at each, the best kept (fewer steps on a
 * tie). Per-label thresholds are chosen on val and the kept plugin is written to `<outDir>/plugin`.
 * Resumable: the schedule's checkpoint and the candidates reached live in `<outDir>/lora-<settings>/`.
 */
export async function fitLoraPlugin(options: FitLoraOptions): Promise<Fitted> {
  const base = pluginInput(options.task, options.data ?? options.task.task);
  const input: PluginInput = {
    ...base,
    augmentation: options.augment ? { method: 'nnunet-3d', ...options.augment } : null,
  };
  // The recipe the plugin records is the one its cases were prepared with, augmentation included.
  const o = { ...options, task: { ...options.task, input } };
  const L = o.task.labels.length;
  const views = inputViews(input, o.backbone.card);
  const total = Math.max(...o.steps);
  const optim = { ...o.optim, steps: total };
  // Settings in the folder name: a rerun with other settings trains anew instead of meeting a foreign checkpoint.
  const settings = createHash('sha256')
    .update(
      JSON.stringify({
        optim,
        loss: o.task.loss ?? null,
        ...(o.seg ? { seg: o.seg } : {}),
        ...(o.augment ? { augment: o.augment } : {}),
      }),
    )
    .digest('hex')
    .slice(0, 8);
  const root = join(o.outDir, `lora-${settings}`);
  const valTruth = byLabel(
    o.val.map((c) => Array.from(c.labels)),
    L,
  );
  let estimated = false;
  const started = Date.now();
  const run = await trainCandidates({
    train: {
      source: {
        backbone: o.backbone,
        cases: await volumeCases(o.train, input, views, {
          ...(o.seg
            ? { seg: { patch: o.backbone.card.patchSize ?? 1, ...(o.seg.labels ? { labels: o.seg.labels } : {}) } }
            : {}),
          ...(o.rescaleOf ? { rescaleOf: o.rescaleOf } : {}),
        }),
        chunk: o.chunk,
        ...(o.seg ? { seg: o.seg } : {}),
      },
      task: o.task,
      options: optim,
      // Each LoRA step runs the backbone forward and back: checkpoint often.
      checkpointEvery: 10,
      ...(o.data ? { data: o.data } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.device ? { device: o.device } : {}),
    },
    steps: o.steps,
    trainDir: join(root, 'train'),
    candidateDir: (step) => join(root, `step-${step}`),
    score: async (dir, step) => {
      const rows = await adaptedPredictions(o.val, {
        dir,
        backbone: o.backbone,
        input,
        stage: `val ${step}`,
        ...(o.rescaleOf ? { rescaleOf: o.rescaleOf } : {}),
        ...(o.threads ? { threads: o.threads } : {}),
        ...(o.device ? { device: o.device } : {}),
        ...(o.report ? { report: o.report } : {}),
      });
      const scores = byLabel(rows, L);
      return { auroc: evaluate({ labels: o.task.labels, scores, truth: valTruth }).macro.auroc, val: scores };
    },
    onProgress: (p) => {
      if (!estimated) {
        // The first step of this run (a resumed one too) sets the pace; the rest is that times the steps left.
        estimated = true;
        const first = (Date.now() - started) / 1000;
        const left = p.totalSteps - p.step;
        o.note?.(
          `LoRA training: the first step took ${first.toFixed(1)} s (${o.optim.batchSize ?? 4} cases); ` +
            `${left} more step(s) ≈ ${formatDuration(first * left)}, plus scoring ${o.val.length} val case(s) at each of ` +
            `${o.steps.length} candidate(s) (--mode frozen is the fast probe)`,
        );
      }
      o.report?.({ stage: 'train lora', done: p.step, total: p.totalSteps, detail: `loss ${p.loss.toFixed(4)}` });
    },
  });
  const thresholds =
    o.task.kind === 'multiclass'
      ? o.task.labels.map(() => null)
      : selectThresholds({ scores: run.best.val, truth: valTruth }, o.criterion);
  const id = { name: o.backbone.card.name, weightHash: o.backbone.weightHash };
  const { card, weights } = await readPlugin(run.best.dir, id);
  const pluginDir = o.pluginDir ?? join(o.outDir, 'plugin');
  await savePlugin(
    pluginDir,
    {
      ...card,
      thresholds: thresholds.map((t) => t ?? 0.5),
      metrics: run.best.valAuroc === null ? {} : { val_auroc: run.best.valAuroc },
    },
    weights,
  );
  const attempts = run.candidates.map((c) => ({ steps: c.step, valAuroc: c.valAuroc, dir: c.dir }));
  const curves = [{ losses: run.losses, candidates: attempts.map((a) => ({ steps: a.steps, valAuroc: a.valAuroc })) }];
  return { attempts, curves, chosen: attempts[run.candidates.indexOf(run.best)]!, thresholds, pluginDir };
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
