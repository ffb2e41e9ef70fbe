import type { GraphBuilder, Value } from '../graph/index.js';

/**
 * Task-query attention pooling (paper Eq. 5): a = softmax(H·q/√d) over slices, v = aᵀH.
 * H [B,S,d] holds one CLS token per slice; `mask` [B,S] (1 = slice, 0 = padding) lets cases of
 * different slice counts share a batch: padded slices get −1e9 before the softmax, weight 0 after.
 */
export function queryPool(
  g: GraphBuilder,
  tokens: Value,
  query: Value,
  mask?: Value,
): { pooled: Value; weights: Value } {
  const d = tokens.shape[2] as number;
  const q = g.op('Reshape', [query, g.ints([d, 1])]);
  let scores = g.op('Squeeze', [g.op('MatMul', [tokens, q]), g.ints([2])]);
  scores = g.op('Mul', [scores, g.scalar(1 / Math.sqrt(d), tokens.dtype)]);
  if (mask) {
    const penalty = g.op('Mul', [g.op('Sub', [mask, g.scalar(1, tokens.dtype)]), g.scalar(1e9, tokens.dtype)]);
    scores = g.op('Add', [scores, penalty]);
  }
  const weights = g.op('Softmax', [scores], { axis: 1 });
  const pooled = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [weights, g.ints([1])]), tokens]), g.ints([1])]);
  return { pooled, weights };
}
