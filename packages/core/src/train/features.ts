import {
  buildGradientGraph,
  GraphBuilder,
  gradName,
  OnnxSession,
  type Tensor,
  tensor,
  toOnnx,
} from '../graph/index.js';
import { multiViewHead } from '../plugin/multi-view.js';
import { classificationLoss, type PluginSpec, type PluginWeights, pluginHead } from '../plugin/plugin-graph.js';

/** Cached frozen CLS tokens [slices, d] of one view of a case. */
export interface FeatureView {
  tokens: Float32Array;
  slices: number;
}

/** One case for plugin-only training: tokens of its first view, further views, and its label vector. */
export interface FeatureCase extends FeatureView {
  id: string;
  /** Views 1…V−1 of a multi-view task, in the task's view order. */
  moreViews?: FeatureView[];
  /** Multi-label: 0/1 per label. Multi-class: one-hot. */
  labels: readonly number[];
}

/** View `v` of a case (0 is the case's own tokens). */
export function caseView(c: FeatureCase, v: number): FeatureView {
  const view = v === 0 ? c : c.moreViews?.[v - 1];
  if (!view) throw new Error(`case ${c.id} has no view ${v}`);
  return view;
}

/** Graph input names of view `v`'s tokens and mask (view 0 keeps the single-view names). */
export const viewInputs = (v: number) =>
  v === 0 ? { tokens: 'tokens', mask: 'mask' } : { tokens: `tokens${v}`, mask: `mask${v}` };

/** Stacks one view of the cases into [B,S,d] tokens with a [B,S] mask, S the longest case. */
export function padBatch(cases: readonly FeatureCase[], dim: number, view = 0): { tokens: Tensor; mask: Tensor } {
  const views = cases.map((c) => caseView(c, view));
  const S = Math.max(...views.map((c) => c.slices));
  const tokens = new Float32Array(cases.length * S * dim);
  const mask = new Float32Array(cases.length * S);
  views.forEach((c, b) => {
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

/**
 * The head-only training graph: tokens and masks per view, labels, case weights → loss and
 * logits. One view pools with the plugin query; several pool per view, then fuse (multiViewHead).
 */
export function buildHeadTrainGraph(spec: PluginSpec, weights: PluginWeights, views = 1) {
  const g = new GraphBuilder('plugin.train');
  const inputs = Array.from({ length: views }, (_, v) => {
    const names = viewInputs(v);
    const S = v === 0 ? 'S' : `S${v}`;
    return {
      tokens: g.input(names.tokens, 'float32', ['B', S, spec.dim]),
      mask: g.input(names.mask, 'float32', ['B', S]),
    };
  });
  const labels = g.input('labels', 'float32', ['B', spec.labels.length]);
  const weight = g.input('weight', 'float32', ['B']);
  const { logits } =
    views === 1
      ? pluginHead(g, inputs[0]!.tokens, inputs[0]!.mask, weights)
      : multiViewHead(
          g,
          inputs.map((i) => i.tokens),
          weights,
          inputs.map((i) => i.mask),
        );
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
  views = 1,
) {
  const graph = buildHeadTrainGraph(spec, weights, views);
  const wrt = [...weights.keys()];
  const session = await OnnxSession.create(toOnnx(buildGradientGraph(graph, { loss: 'loss', wrt })), {
    threads,
    memoryPattern: false,
  });
  return {
    session,
    gradient: async (indices: readonly number[], caseWeights: readonly number[]) => {
      const batch = indices.map((i) => cases[i]!);
      const feeds: Record<string, Tensor> = {
        labels: labelTensor(batch, spec.labels.length),
        weight: tensor('float32', [batch.length], Float32Array.from(caseWeights)),
      };
      for (let v = 0; v < views; v++) {
        const { tokens, mask } = padBatch(batch, spec.dim, v);
        const names = viewInputs(v);
        feeds[names.tokens] = tokens;
        feeds[names.mask] = mask;
      }
      for (const [name, t] of weights) feeds[name] = t;
      const out = await session.run(feeds);
      const grads = new Map(wrt.map((name) => [name, out[gradName(name)]!.data as Float32Array]));
      return { loss: Number(out['out.loss']!.data[0]), grads };
    },
  };
}
