import type { Tensor } from '../graph/index.js';
import type { PluginCard } from '../plugin/card.js';
import { probabilitiesOf } from '../plugin/load.js';
import { FUSION_QUERY, viewQuery } from '../plugin/multi-view.js';
import { HEAD_BIAS, HEAD_WEIGHT, QUERY } from '../plugin/plugin-graph.js';
import { InputError } from '../util/errors.js';

/**
 * The plugin's pooling and head evaluated in plain arithmetic on per-view CLS tokens: the same
 * formulas as the ONNX head (a = softmax(Hq/√d), v = aᵀH; views fused by a second query), done here
 * because a heatmap needs the intermediate weights of every view, which the exported head hides.
 */
export interface PluginPass {
  /** Per view, the slice weights a_s. */
  sliceWeights: Float64Array[];
  /** Per view, the view-fusion weight (1 for a single-view plugin). */
  viewWeights: number[];
  probabilities: number[];
}

function softmax(scores: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const s of scores) if (s > max) max = s;
  const out = scores.map((s) => Math.exp(s - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((e) => e / sum);
}

/** softmax(H·q/√d) over rows of H [n, d], and the pooled row aᵀH. */
function pool(rows: ArrayLike<number>, n: number, d: number, q: ArrayLike<number>) {
  const scores = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += rows[s * d + c]! * q[c]!;
    scores[s] = dot / Math.sqrt(d);
  }
  const weights = softmax(scores);
  const pooled = new Float64Array(d);
  for (let s = 0; s < n; s++) for (let c = 0; c < d; c++) pooled[c]! += weights[s]! * rows[s * d + c]!;
  return { weights, pooled };
}

export function pluginTensor(weights: ReadonlyMap<string, Tensor>, name: string, source: string): Float32Array {
  const t = weights.get(name);
  if (!t) throw new InputError(source, `the plugin weights have no tensor ${name}`);
  return t.data as Float32Array;
}

/** Runs the plugin on per-view CLS tokens ([S_v, d] each, in the card's view order). */
export function pluginPass(
  card: PluginCard,
  weights: ReadonlyMap<string, Tensor>,
  views: readonly { tokens: Float32Array; slices: number }[],
  source: string,
): PluginPass {
  const d = card.dim;
  const multi = card.views.length > 1;
  const sliceWeights: Float64Array[] = [];
  const pooledRows = new Float64Array(views.length * d);
  views.forEach((v, i) => {
    const q = pluginTensor(weights, multi ? viewQuery(i) : QUERY, source);
    const { weights: a, pooled } = pool(v.tokens, v.slices, d, q);
    sliceWeights.push(a);
    pooledRows.set(pooled, i * d);
  });
  let fused: Float64Array = pooledRows.subarray(0, d);
  let viewWeights = [1];
  if (multi) {
    const f = pool(pooledRows, views.length, d, pluginTensor(weights, FUSION_QUERY, source));
    fused = f.pooled;
    viewWeights = Array.from(f.weights);
  }
  const W = pluginTensor(weights, HEAD_WEIGHT, source);
  const b = pluginTensor(weights, HEAD_BIAS, source);
  const logits = card.labels.map((_, l) => {
    let z = b[l]!;
    for (let c = 0; c < d; c++) z += W[l * d + c]! * fused[c]!;
    return z;
  });
  return { sliceWeights, viewWeights, probabilities: probabilitiesOf(logits, card.kind) };
}
