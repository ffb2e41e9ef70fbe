import { type GraphBuilder, type Tensor, tensor, type Value } from '../graph/index.js';
import { Random } from '../util/random.js';
import {
  bceLoss,
  type ClassificationLoss,
  crossEntropyLoss,
  DEFAULT_FOCAL,
  type FocalOptions,
  focalLoss,
} from './losses.js';
import { queryPool } from './pooling.js';

export type TaskKind = 'multilabel' | 'multiclass';

/** What a plugin's head needs to know: token width, labels in order, task kind and its loss. */
export interface PluginSpec {
  dim: number;
  labels: readonly string[];
  kind: TaskKind;
  loss: ClassificationLoss;
  focal?: FocalOptions;
}

export type PluginWeights = Map<string, Tensor>;

export const QUERY = 'plugin.query';
export const HEAD_WEIGHT = 'plugin.head.weight';
export const HEAD_BIAS = 'plugin.head.bias';

/** Query ~ truncated N(0, 0.02) (METHOD.md); head as PyTorch's nn.Linear default, U(±1/√d). */
export function initPluginWeights(spec: PluginSpec, seed: number): PluginWeights {
  const { dim } = spec;
  const L = spec.labels.length;
  const rq = Random.fromString(seed, QUERY);
  const truncated = () => {
    for (;;) {
      const z = rq.normal();
      if (Math.abs(z) <= 2) return 0.02 * z;
    }
  };
  const rh = Random.fromString(seed, HEAD_WEIGHT);
  const bound = 1 / Math.sqrt(dim);
  return new Map([
    [QUERY, tensor('float32', [dim], Float32Array.from({ length: dim }, truncated))],
    [
      HEAD_WEIGHT,
      tensor(
        'float32',
        [L, dim],
        Float32Array.from({ length: L * dim }, () => rh.uniform(-bound, bound)),
      ),
    ],
    [
      HEAD_BIAS,
      tensor(
        'float32',
        [L],
        Float32Array.from({ length: L }, () => rh.uniform(-bound, bound)),
      ),
    ],
  ]);
}

export function pluginParamCount(weights: PluginWeights): number {
  let n = 0;
  for (const t of weights.values()) n += t.data.length;
  return n;
}

/** Adds the plugin's trainable params (group 'head') from `weights`. */
export function pluginParams(g: GraphBuilder, weights: PluginWeights, names: readonly string[]): Value[] {
  return names.map((name) => g.param(name, weights.get(name)!, { role: 'trainable', group: 'head', scoped: false }));
}

/** Pooling + linear head: tokens [B,S,d] (+ mask [B,S]) → logits [B,L] and slice weights [B,S]. */
export function pluginHead(
  g: GraphBuilder,
  tokens: Value,
  mask: Value | undefined,
  weights: PluginWeights,
): { logits: Value; sliceWeights: Value } {
  const [query, w, b] = pluginParams(g, weights, [QUERY, HEAD_WEIGHT, HEAD_BIAS]);
  const { pooled, weights: sliceWeights } = queryPool(g, tokens, query!, mask);
  const logits = g.op('Gemm', [pooled, w!, b!], { transB: 1 });
  return { logits, sliceWeights };
}

export function classificationLoss(
  g: GraphBuilder,
  spec: PluginSpec,
  logits: Value,
  labels: Value,
  weight: Value,
): Value {
  if (spec.kind === 'multiclass' && spec.loss !== 'ce') throw new Error('a multi-class plugin trains with the ce loss');
  if (spec.loss === 'ce') return crossEntropyLoss(g, logits, labels, weight);
  if (spec.loss === 'focal') return focalLoss(g, logits, labels, weight, spec.focal ?? DEFAULT_FOCAL);
  return bceLoss(g, logits, labels, weight);
}
