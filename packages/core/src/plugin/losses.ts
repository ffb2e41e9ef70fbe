import type { GraphBuilder, Value } from '../graph/index.js';

/**
 * Classification losses as graph ops, each a weighted sum over cases: `weight` [B] carries 1/(cases
 * in the optimiser step) for real cases and 0 for padding, so micro-batches of any size accumulate
 * to the mean over the step.
 */
export type ClassificationLoss = 'bce' | 'focal' | 'ce';

export interface FocalOptions {
  gamma: number;
  alpha: number;
}

export const DEFAULT_FOCAL: FocalOptions = { gamma: 2, alpha: 0.25 };

function weightedCaseSum(g: GraphBuilder, perCase: Value, weight: Value): Value {
  return g.op('ReduceSum', [g.op('Mul', [perCase, weight])], { keepdims: 0 });
}

/** Per-element BCE with logits, log(1+e^z) − y·z, in the overflow-safe form max(z,0) − y·z + log(1+e^−|z|). */
function bceElements(g: GraphBuilder, logits: Value, labels: Value): Value {
  const one = g.scalar(1, logits.dtype);
  const relu = g.op('Relu', [logits]);
  const absNeg = g.op('Sub', [g.op('Mul', [g.scalar(2, logits.dtype), relu]), logits]);
  const log1p = g.op('Log', [g.op('Add', [one, g.op('Exp', [g.op('Neg', [absNeg])])])]);
  return g.op('Add', [g.op('Sub', [relu, g.op('Mul', [labels, logits])]), log1p]);
}

/** Mean over labels of BCE with logits per case. */
export function bceLoss(g: GraphBuilder, logits: Value, labels: Value, weight: Value): Value {
  const perCase = g.op('ReduceMean', [bceElements(g, logits, labels)], { axes: [1], keepdims: 0 });
  return weightedCaseSum(g, perCase, weight);
}

/** Sigmoid focal loss (Lin et al.; torchvision's form), mean over labels per case. */
export function focalLoss(
  g: GraphBuilder,
  logits: Value,
  labels: Value,
  weight: Value,
  options = DEFAULT_FOCAL,
): Value {
  const dt = logits.dtype;
  const one = g.scalar(1, dt);
  const p = g.op('Sigmoid', [logits]);
  const ce = bceElements(g, logits, labels);
  const notY = g.op('Sub', [one, labels]);
  const pt = g.op('Add', [g.op('Mul', [p, labels]), g.op('Mul', [g.op('Sub', [one, p]), notY])]);
  const miss = g.op('Sub', [one, pt]);
  let mod = miss;
  for (let k = 1; k < options.gamma; k++) mod = g.op('Mul', [mod, miss]);
  if (options.gamma === 0) mod = one;
  let loss = g.op('Mul', [ce, mod]);
  if (options.alpha >= 0) {
    const at = g.op('Add', [
      g.op('Mul', [labels, g.scalar(options.alpha, dt)]),
      g.op('Mul', [notY, g.scalar(1 - options.alpha, dt)]),
    ]);
    loss = g.op('Mul', [loss, at]);
  }
  return weightedCaseSum(g, g.op('ReduceMean', [loss], { axes: [1], keepdims: 0 }), weight);
}

/** Softmax cross-entropy with one-hot `labels` [B,L]. */
export function crossEntropyLoss(g: GraphBuilder, logits: Value, labels: Value, weight: Value): Value {
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  const perCase = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [labels, logp]), g.ints([1])], { keepdims: 0 })]);
  return weightedCaseSum(g, perCase, weight);
}

/**
 * Dice + BCE for voxel logits [B,1,D,H,W] against a mask of the same shape, per case
 * (soft Dice with smoothing 1), weighted over cases (weight 0 for cases without a mask).
 */
export function diceBceLoss(g: GraphBuilder, logits: Value, mask: Value, weight: Value): Value {
  const dt = logits.dtype;
  const axes = logits.shape.map((_, k) => k).slice(1);
  const p = g.op('Sigmoid', [logits]);
  const sum = (v: Value) => g.op('ReduceSum', [v, g.ints(axes)], { keepdims: 0 });
  const inter = sum(g.op('Mul', [p, mask]));
  const denom = g.op('Add', [g.op('Add', [sum(p), sum(mask)]), g.scalar(1, dt)]);
  const dice = g.op('Sub', [
    g.scalar(1, dt),
    g.op('Div', [g.op('Add', [g.op('Mul', [inter, g.scalar(2, dt)]), g.scalar(1, dt)]), denom]),
  ]);
  const bce = g.op('ReduceMean', [bceElements(g, logits, mask)], { axes, keepdims: 0 });
  return weightedCaseSum(g, g.op('Add', [dice, bce]), weight);
}
