import { type GraphBuilder, tensor, type Value } from '../graph/index.js';
import { Random } from '../util/random.js';
import { HEAD_BIAS, HEAD_WEIGHT, type PluginWeights, pluginParams } from './plugin-graph.js';
import { queryPool } from './pooling.js';

/** Multi-view plugins: one query per view, then a second-level query pools the view embeddings (METHOD.md §2). */
export const viewQuery = (view: number): string => `plugin.view${view}.query`;
export const FUSION_QUERY = 'plugin.fusion.query';

/** Adds per-view and fusion queries (truncated N(0, 0.02)) to single-view plugin weights. */
export function addViewQueries(weights: PluginWeights, views: number, seed: number): PluginWeights {
  const dim = weights.get(HEAD_WEIGHT)!.dims[1]!;
  const out: PluginWeights = new Map([...weights].filter(([k]) => k === HEAD_WEIGHT || k === HEAD_BIAS));
  for (const name of [...Array.from({ length: views }, (_, v) => viewQuery(v)), FUSION_QUERY]) {
    const r = Random.fromString(seed, name);
    const draw = () => {
      for (;;) {
        const z = r.normal();
        if (Math.abs(z) <= 2) return 0.02 * z;
      }
    };
    out.set(name, tensor('float32', [dim], Float32Array.from({ length: dim }, draw)));
  }
  return out;
}

/**
 * View tokens [B,S_v,d] each (with optional [B,S_v] padding masks) → per-view pooled [B,d] →
 * fusion pooling over views → logits [B,L].
 */
export function multiViewHead(
  g: GraphBuilder,
  views: readonly Value[],
  weights: PluginWeights,
  masks?: readonly Value[],
): { logits: Value; viewWeights: Value; sliceWeights: Value[] } {
  const queries = pluginParams(
    g,
    weights,
    views.map((_, v) => viewQuery(v)),
  );
  const pools = views.map((t, v) => queryPool(g, t, queries[v]!, masks?.[v]));
  const pooled = pools.map((p) => g.op('Unsqueeze', [p.pooled, g.ints([1])]));
  const stacked = views.length === 1 ? pooled[0]! : g.op('Concat', pooled, { axis: 1 });
  const [fusion, w, b] = pluginParams(g, weights, [FUSION_QUERY, HEAD_WEIGHT, HEAD_BIAS]);
  const { pooled: v, weights: viewWeights } = queryPool(g, stacked, fusion!);
  return {
    logits: g.op('Gemm', [v, w!, b!], { transB: 1 }),
    viewWeights,
    sliceWeights: pools.map((p) => p.weights),
  };
}
