import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { evaluate, foldAll, selectThresholds, type ThresholdCriterion } from '../metrics/index.js';
import {
  loadPlugin,
  type PluginBackbone,
  type TaskCard as PluginTask,
  readPlugin,
  savePlugin,
} from '../plugin/index.js';
import { type FeatureCase, type OptimOptions, trainCandidates } from '../train/index.js';
import { InputError } from '../util/errors.js';
import { type Attempt, byLabel, type FitCurve, type Fitted, type WorkflowProgressSink } from './fit-result.js';

export interface FitOptions {
  task: PluginTask;
  /** Written to the plugin's card, with the tokens' precision when not fp32. */
  backbone: PluginBackbone;
  train: FeatureCase[];
  val: FeatureCase[];
  /** Candidate step counts; the one with the best validation AUROC is kept. */
  steps: number[];
  /** Candidate head learning rates, crossed with `steps` (default: `optim.lrHead` alone). */
  lrs?: number[];
  optim?: Partial<OptimOptions>;
  criterion: ThresholdCriterion;
  outDir: string;
  threads?: number;
  data?: string;
  report?: WorkflowProgressSink;
  /** Where the kept plugin is written (default `<outDir>/plugin`). */
  pluginDir?: string;
}

/** Raw probabilities [case][label] of cases through a saved frozen-backbone plugin (per-view tokens). */
export async function predictCases(
  dir: string,
  backbone: { name: string; weightHash: string },
  cases: readonly FeatureCase[],
  threads?: number,
): Promise<number[][]> {
  const plugin = await loadPlugin(dir, backbone, threads ? { threads } : {});
  try {
    // Frozen tokens are not what a LoRA plugin's head was trained on: refuse rather than answer wrongly.
    if (plugin.card.lora)
      throw new InputError(dir, 'a LoRA plugin predicts through its adapted backbone, not from frozen tokens');
    const out: number[][] = [];
    for (const c of cases) out.push((await plugin.predictViews([c, ...(c.moreViews ?? [])])).probabilities);
    return out;
  } finally {
    await plugin.release();
  }
}

/**
 * The frozen probe's fit on cached tokens: one schedule per candidate learning rate, as long as the
 * largest step count, a plugin saved and scored on `val` at each step count; keeps the one with the
 * best macro AUROC (the earlier candidate on a tie: lower rate, fewer steps, as listed), picks
 * per-label thresholds on `val` and writes the kept plugin with those thresholds on its card (to
 * `<outDir>/plugin` unless `pluginDir` says otherwise). Test data never enters here.
 */
export async function fitPlugin(o: FitOptions): Promise<Fitted> {
  const attempts: Attempt[] = [];
  const curves: FitCurve[] = [];
  const L = o.task.labels.length;
  const valTruth = byLabel(
    o.val.map((c) => c.labels),
    L,
  );
  // One schedule per learning rate, as long as the largest step count, with a plugin saved and
  // scored on val at each candidate step (core's trainCandidates, as the LoRA fit and the benchmark
  // take them): `--steps` means the same thing in every mode.
  for (const lr of o.lrs ?? [o.optim?.lrHead]) {
    const optim = lr === undefined ? { ...o.optim } : { ...o.optim, lrHead: lr };
    // Settings in the folder name: a rerun with other settings trains anew instead of meeting a foreign checkpoint.
    const settings = createHash('sha256')
      .update(JSON.stringify({ optim, loss: o.task.loss ?? null, steps: Math.max(...o.steps) }))
      .digest('hex')
      .slice(0, 8);
    const root = join(o.outDir, 'candidates', `${lr === undefined ? 'lr-default' : `lr-${lr}`}-${settings}`);
    const run = await trainCandidates({
      train: {
        source: { features: o.train, backbone: o.backbone },
        task: o.task,
        options: optim,
        ...(o.threads ? { threads: o.threads } : {}),
        ...(o.data ? { data: o.data } : {}),
      },
      steps: o.steps,
      trainDir: join(root, 'train'),
      candidateDir: (step) => join(root, `step-${step}`),
      score: async (dir) => {
        const scores = byLabel(await predictCases(dir, o.backbone, o.val, o.threads), L);
        return { auroc: evaluate({ labels: o.task.labels, scores, truth: valTruth }).macro.auroc, val: scores };
      },
      onProgress: (p) =>
        o.report?.({
          stage: lr === undefined ? 'train' : `train lr ${lr}`,
          done: p.step,
          total: p.totalSteps,
          detail: `loss ${p.loss.toFixed(4)}`,
        }),
    });
    curves.push({
      ...(lr === undefined ? {} : { lr }),
      losses: run.losses,
      candidates: run.candidates.map((c) => ({ steps: c.step, valAuroc: c.valAuroc })),
    });
    // Candidates in the order given (the earlier one wins a tie, as before).
    for (const steps of o.steps) {
      const c = run.candidates.find((x) => x.step === steps)!;
      attempts.push({ steps, ...(lr === undefined ? {} : { lr }), valAuroc: c.valAuroc, dir: c.dir });
    }
  }
  const chosen = attempts.reduce((best, a) => ((a.valAuroc ?? -1) > (best.valAuroc ?? -1) ? a : best));
  const valScores = byLabel(await predictCases(chosen.dir, o.backbone, o.val, o.threads), L);
  // Multi-class decides by arg max: no per-class thresholds are learnt.
  const thresholds =
    o.task.kind === 'multiclass'
      ? o.task.labels.map(() => null)
      : selectThresholds({ scores: valScores, truth: valTruth }, o.criterion);
  const { card, weights } = await readPlugin(chosen.dir, o.backbone);
  const pluginDir = o.pluginDir ?? join(o.outDir, 'plugin');
  await savePlugin(
    pluginDir,
    {
      ...card,
      thresholds: thresholds.map((t) => t ?? 0.5),
      metrics: chosen.valAuroc === null ? {} : { val_auroc: chosen.valAuroc },
    },
    weights,
  );
  return { attempts, curves, chosen, thresholds, pluginDir };
}

/**
 * The operating point written with the probabilities, per case. Binary and multi-label: each label's
 * threshold folded to 0.5 (ranking unchanged). Multi-class: the softmax probabilities as they are
 * (they sum to 1, the decision is the arg max); folding classes one by one would break both.
 */
export function foldRows(
  rows: readonly (readonly number[])[],
  thresholds: readonly number[],
  kind: PluginTask['kind'],
): number[][] {
  if (kind === 'multiclass') return rows.map((r) => [...r]);
  const folded = foldAll(byLabel(rows, thresholds.length), thresholds);
  return rows.map((_, i) => folded.map((f) => f[i]!));
}
