import type { Tensor } from '../graph/index.js';
import { Random } from '../util/random.js';
import type { AdamW, ParamGroup } from './adamw.js';
import { clipGradNorm, cosineWithWarmup } from './schedule.js';

export interface OptimOptions {
  steps: number;
  batchSize: number;
  /** Micro-batches per optimiser step (gradient accumulation). */
  accumulate: number;
  warmup: number;
  lrLora: number;
  wdLora: number;
  lrHead: number;
  wdHead: number;
  /** Global gradient-norm clip; 0 disables. */
  clip: number;
  seed: number;
  /** Reshuffle the cases every epoch (seeded); false walks them in order. */
  shuffle: boolean;
}

export const DEFAULT_OPTIM: OptimOptions = {
  steps: 1000,
  batchSize: 4,
  accumulate: 1,
  warmup: 50,
  lrLora: 1e-4,
  wdLora: 1e-5,
  lrHead: 1e-3,
  wdHead: 1e-4,
  clip: 1,
  seed: 0,
  shuffle: true,
};

export interface Progress {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  casesPerSecond: number;
  etaSeconds: number;
}

/** Loss and gradients of one micro-batch; `weights[k]` scales case k's loss (1/cases per step). */
export type BatchGradient = (
  cases: readonly number[],
  weights: readonly number[],
  /** Where in the schedule this micro-batch is: seeds per-use randomness (augmentation) reproducibly, resumes included. */
  at: { step: number; micro: number },
) => Promise<{ loss: number; grads: Map<string, Float32Array> }>;

export interface TrainState {
  step: number;
  params: Map<string, Tensor>;
  optimizer: AdamW;
}

/** Which cases make up micro-batch `micro` of optimiser step `step`: a function of the seed alone, so a resumed run sees the same data. */
export function batchCases(step: number, micro: number, caseCount: number, o: OptimOptions): number[] {
  const perStep = o.batchSize * o.accumulate;
  const out: number[] = [];
  for (let k = 0; k < o.batchSize; k++) {
    const index = step * perStep + micro * o.batchSize + k;
    const epoch = Math.floor(index / caseCount);
    const order = Array.from({ length: caseCount }, (_, i) => i);
    if (o.shuffle) Random.fromString(o.seed, `epoch${epoch}`).shuffle(order);
    out.push(order[index % caseCount]!);
  }
  return out;
}

export const groupParams =
  (o: OptimOptions, groups: ReadonlyMap<string, string>) =>
  (name: string): ParamGroup =>
    groups.get(name) === 'lora' ? { lr: o.lrLora, weightDecay: o.wdLora } : { lr: o.lrHead, weightDecay: o.wdHead };

/**
 * The optimiser loop: accumulate micro-batch gradients, clip, AdamW with parameter groups and
 * cosine/warm-up schedule. `afterStep` may checkpoint; a run resumed from a checkpoint of step k
 * continues bit-for-bit like the uninterrupted run.
 */
export async function runTraining(args: {
  state: TrainState;
  caseCount: number;
  options: OptimOptions;
  groups: ReadonlyMap<string, string>;
  gradient: BatchGradient;
  onProgress?: (p: Progress) => void;
  afterStep?: (state: TrainState, loss: number) => Promise<void> | void;
  /** Stop after this step (candidate steps along one schedule; tests that kill a run part-way). */
  stopAfter?: number;
}): Promise<number[]> {
  const { state, options: o } = args;
  const groupOf = groupParams(o, args.groups);
  const losses: number[] = [];
  const started = Date.now();
  const startStep = state.step;
  // A run resumed at (or past) `stopAfter` takes no step: the checkpoint already is that step's state.
  while (state.step < o.steps && !(args.stopAfter !== undefined && state.step >= args.stopAfter)) {
    const total = new Map<string, Float32Array>();
    let loss = 0;
    for (let micro = 0; micro < o.accumulate; micro++) {
      const cases = batchCases(state.step, micro, args.caseCount, o);
      const r = await args.gradient(
        cases,
        cases.map(() => 1 / (o.batchSize * o.accumulate)),
        { step: state.step, micro },
      );
      loss += r.loss;
      for (const [name, g] of r.grads) {
        const acc = total.get(name);
        if (!acc) total.set(name, Float32Array.from(g));
        else for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
      }
    }
    if (o.clip > 0) clipGradNorm(total.values(), o.clip);
    const scale = cosineWithWarmup(state.step, o.steps, o.warmup);
    state.optimizer.step(state.params, total, groupOf, scale);
    state.step += 1;
    losses.push(loss);
    const elapsed = (Date.now() - started) / 1000;
    const done = state.step - startStep;
    args.onProgress?.({
      step: state.step,
      totalSteps: o.steps,
      loss,
      lr: o.lrHead * scale,
      casesPerSecond: (done * o.batchSize * o.accumulate) / Math.max(elapsed, 1e-9),
      etaSeconds: (elapsed / done) * (o.steps - state.step),
    });
    await args.afterStep?.(state, loss);
    if (args.stopAfter !== undefined && state.step >= args.stopAfter) break;
  }
  return losses;
}
