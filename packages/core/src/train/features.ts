import {
  buildGradientGraph,
  GraphBuilder,
  gradName,
  OnnxSession,
  type Tensor,
  tensor,
  toOnnx,
} from '../graph/index.js';
import { classificationLoss, type PluginSpec, type PluginWeights, pluginHead } from '../plugin/plugin-graph.js';

/** One case for plugin-only training: cached frozen CLS tokens [slices, d] and its label vector. */
export interface FeatureCase {
  id: string;
  tokens: Float32Array;
  slices: number;
  /** Multi-label: 0/1 per label. Multi-class: one-hot. */
  labels: readonly number[];
}

/** Stacks cases into [B,S,d] tokens with a [B,S] mask, S the longest case. */
export function padBatch(cases: readonly FeatureCase[], dim: number): { tokens: Tensor; mask: Tensor } {
  const S = Math.max(...cases.map((c) => c.slices));
  const tokens = new Float32Array(cases.length * S * dim);
  const mask = new Float32Array(cases.length * S);
  cases.forEach((c, b) => {
    tokens.set(c.tokens.subarray(0, c.slices * dim), b * S * dim);
    mask.fill(1, b * S, b * S + c.slices);
  });
  return {
    tokens: tensor('float32', [cases.length, S, dim], tokens),
    mask: tensor('float32', [cases.length, S], mask),
  };
}

export function labelTensor(cases: readonly FeatureCase[], labels: number): Tensor {
  const out = new Float32Array(cases.length * labels);
  cases.forEach((c, b) => {
    out.set(c.labels, b * labels);
  });
  return tensor('float32', [cases.length, labels], out);
}

/** The head-only training graph: tokens, mask, labels, case weights → loss and head gradients. */
export function buildHeadTrainGraph(spec: PluginSpec, weights: PluginWeights) {
  const g = new GraphBuilder('plugin.train');
  const tokens = g.input('tokens', 'float32', ['B', 'S', spec.dim]);
  const mask = g.input('mask', 'float32', ['B', 'S']);
  const labels = g.input('labels', 'float32', ['B', spec.labels.length]);
  const weight = g.input('weight', 'float32', ['B']);
  const { logits } = pluginHead(g, tokens, mask, weights);
  g.output(classificationLoss(g, spec, logits, labels, weight), 'loss');
  g.output(logits, 'logits');
  return g.build();
}

/** Gradient function for plugin-only training on cached tokens (no backbone pass). */
export async function featureGradient(
  spec: PluginSpec,
  weights: PluginWeights,
  cases: readonly FeatureCase[],
  threads = 1,
) {
  const graph = buildHeadTrainGraph(spec, weights);
  const wrt = [...weights.keys()];
  const session = await OnnxSession.create(toOnnx(buildGradientGraph(graph, { loss: 'loss', wrt })), {
    threads,
    memoryPattern: false,
  });
  return {
    session,
    gradient: async (indices: readonly number[], caseWeights: readonly number[]) => {
      const batch = indices.map((i) => cases[i]!);
      const { tokens, mask } = padBatch(batch, spec.dim);
      const feeds: Record<string, Tensor> = {
        tokens,
        mask,
        labels: labelTensor(batch, spec.labels.length),
        weight: tensor('float32', [batch.length], Float32Array.from(caseWeights)),
      };
      for (const [name, t] of weights) feeds[name] = t;
      const out = await session.run(feeds);
      const grads = new Map(wrt.map((name) => [name, out[gradName(name)]!.data as Float32Array]));
      return { loss: Number(out['out.loss']!.data[0]), grads };
    },
  };
}
