import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../graph/index.js';
import type { PluginCard } from '../plugin/card.js';
import { PLUGIN_CARD, readPlugin, savePlugin } from '../plugin/store.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Progress } from './loop.js';
import { type TrainPluginArgs, trainPlugin } from './train-plugin.js';

export interface CandidateArgs<V> {
  /** What trainPlugin trains; `options.steps` is replaced by the largest candidate. */
  train: Omit<TrainPluginArgs, 'outDir' | 'stopAfter' | 'onProgress'>;
  /** Optimiser steps at which a plugin is saved and scored (any order, duplicates ignored). */
  steps: readonly number[];
  /** The resumable checkpoint of the one schedule. */
  trainDir: string;
  /** Where the plugin of candidate `step` is saved (kept, so a resumed run re-scores it instead of re-training). */
  candidateDir: (step: number) => string;
  /** Validation of a saved candidate: its macro AUROC (null: undefined on val) and whatever the caller keeps. */
  score: (dir: string, step: number) => Promise<{ auroc: number | null; val: V }>;
  onProgress?: (p: Progress & { candidate: number }) => void;
  /** Called once a candidate's plugin is saved (e.g. to tell a failing first step from a later one). */
  onSaved?: (step: number) => void;
}

export interface ScoredCandidate<V> {
  step: number;
  valAuroc: number | null;
  /** Loss of the candidate's last step (NaN when it was read back from an earlier run). */
  trainLoss: number;
  dir: string;
  val: V;
}

export interface CandidateRun<V> {
  candidates: ScoredCandidate<V>[];
  /** The schedule's loss at each optimiser step taken so far, `{ step, loss }` (kept across resumes). */
  losses: { step: number; loss: number }[];
  /** The best validation AUROC; the earlier (fewer steps) on a tie. */
  best: ScoredCandidate<V>;
  card: PluginCard;
  /** Seconds spent training in this call (not reading back candidates saved by an earlier one). */
  trainSeconds: number;
}

/**
 * One schedule as long as the largest candidate (cosine decay to its end), a plugin saved at every
 * candidate step and scored on validation: choosing the step count costs one training run, not one
 * per candidate. Every candidate's plugin is kept in `candidateDir(step)`, so a killed run resumes from
 * the checkpoint and re-scores the candidates it had already reached. The train-only seg decoder is
 * not part of a candidate.
 */
export async function trainCandidates<V>(args: CandidateArgs<V>): Promise<CandidateRun<V>> {
  const steps = [...new Set(args.steps)].sort((a, b) => a - b);
  const total = steps[steps.length - 1]!;
  const id = args.train.source.backbone;
  const backboneId = 'card' in id ? { name: id.card.name, weightHash: id.weightHash } : id;
  const candidates: ScoredCandidate<V>[] = [];
  let card: PluginCard | undefined;
  let trainSeconds = 0;
  // Each call of trainPlugin returns only the losses of the steps it ran; the log beside the
  // checkpoint keeps the earlier ones, so a resumed schedule still has its whole curve.
  const logPath = join(args.trainDir, LOSS_LOG);
  const losses = await readLossLog(logPath);
  for (const [index, step] of steps.entries()) {
    const dir = args.candidateDir(step);
    let trainLoss = Number.NaN;
    if (existsSync(join(dir, PLUGIN_CARD))) {
      card = (await readPlugin(dir, backboneId)).card;
    } else {
      const started = Date.now();
      const trained = await trainPlugin({
        ...args.train,
        outDir: args.trainDir,
        options: { ...args.train.options, steps: total },
        ...(step < total ? { stopAfter: step } : {}),
        ...(args.onProgress ? { onProgress: (p: Progress) => args.onProgress!({ ...p, candidate: index }) } : {}),
      });
      trainSeconds += (Date.now() - started) / 1000;
      // A checkpoint past this step (a candidate folder removed by hand) cannot give this step's weights.
      if (trained.card.training.steps !== step)
        throw new Error(
          `${args.trainDir}: the checkpoint is at step ${trained.card.training.steps}, past candidate ${step}; remove the folder to train again`,
        );
      const weights = new Map<string, Tensor>(
        [...trained.weights].filter(([k]) => !k.startsWith('plugin.seg.')).map(([k, t]) => [k, structuredClone(t)]),
      );
      card = trained.card;
      await savePlugin(dir, card, weights);
      if (trained.losses.length) trainLoss = trained.losses[trained.losses.length - 1]!;
      for (const [i, loss] of trained.losses.entries()) losses.set(trained.resumedFrom + i + 1, loss);
      await writeFileAtomic(logPath, `${JSON.stringify(Object.fromEntries(losses))}\n`);
    }
    args.onSaved?.(step);
    const { auroc, val } = await args.score(dir, step);
    candidates.push({ step, valAuroc: auroc, trainLoss, dir, val });
  }
  const best = candidates.reduce((b, c) => ((c.valAuroc ?? -1) > (b.valAuroc ?? -1) ? c : b));
  const curve = [...losses].sort(([a], [b]) => a - b).map(([step, loss]) => ({ step, loss }));
  return { candidates, best, card: card!, trainSeconds, losses: curve };
}

/** The schedule's per-step losses, beside its checkpoint. */
export const LOSS_LOG = 'losses.json';

async function readLossLog(path: string): Promise<Map<number, number>> {
  if (!existsSync(path)) return new Map();
  const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, number>;
  return new Map(Object.entries(raw).map(([k, v]) => [Number(k), v]));
}
