import type { Backbone } from '@anymc3d/core/backbone';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import type { Device, Precision } from '@anymc3d/core/graph';
import { type ViewTokens, viewTokens } from '@anymc3d/core/pipeline';
import { inputViews, type PluginInput, recipeFeatureCache } from '@anymc3d/core/plugin';
import type { ManifestCase, TaskCard } from '@anymc3d/core/task';
import type { FeatureCase } from '@anymc3d/core/train';
import { caseSources } from '@anymc3d/core/workflows';
import type { ProgressSink } from '../progress.js';

export interface ExtractOptions {
  /** The plugin's input (`taskInput` of the task card when training; the plugin's own when predicting). */
  input: PluginInput;
  backbone: Backbone;
  /** Root of the feature cache (entries are keyed by backbone weights and preprocessing). */
  cacheRoot: string;
  threads?: number;
  device?: Device;
  report?: ProgressSink;
  /** The frozen backbone's arithmetic (default fp32); its tokens are cached apart. */
  precision?: Precision;
  /** A session kept by the caller across calls (`anymc3d worker`); absent, one is made and released here. */
  embedder?: BackboneEmbedder;
}

export interface Extracted {
  tokens: Map<string, Map<string, ViewTokens>>;
  /** (case, view) entries run through the backbone in this call (0 when all came from the cache). */
  computed: number;
  cacheDir: string;
}

/**
 * Frozen-backbone CLS tokens of every case and view, from the cache where present. The backbone
 * session is only built when a case is missing from the cache, so a repeated run never runs it.
 */
export async function extractTokens(cases: readonly ManifestCase[], o: ExtractOptions): Promise<Extracted> {
  const views = inputViews(o.input, o.backbone.card);
  const precision = o.precision ?? 'fp32';
  if (o.embedder && o.embedder.precision !== precision)
    throw new Error(
      `extractTokens: the embedder given runs ${o.embedder.precision}, the cache asked for is ${precision}`,
    );
  const cache = recipeFeatureCache(o.cacheRoot, o.backbone, o.input, views, precision);
  const embedder =
    o.embedder ??
    new BackboneEmbedder(o.backbone, {
      batchSize: 32,
      precision,
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.device ? { device: o.device } : {}),
    });
  let computed = 0;
  try {
    const tokens = await viewTokens(
      caseSources(cases, o.input, { digestIndex: cache.digestIndex }),
      views,
      embedder,
      cache,
      (p) => {
        computed = p.computed;
        o.report?.({
          stage: 'features',
          done: p.done,
          total: p.total,
          detail: p.computed > 0 ? `${p.slicesPerSecond.toFixed(0)} slices/s, ${p.fromCache} cached` : 'from cache',
        });
      },
    );
    return { tokens, computed, cacheDir: cache.dir };
  } finally {
    if (!o.embedder) await embedder.release();
  }
}

/** Feature cases for plugin training/prediction: view tokens in the card's view order, labels as numbers. */
export function featureCases(
  cases: readonly ManifestCase[],
  tokens: Extracted['tokens'],
  card: TaskCard,
): FeatureCase[] {
  return cases.map((c) => {
    const views = card.views.map((v) => {
      const t = tokens.get(c.id)?.get(v.name);
      if (!t) throw new Error(`no tokens for case ${c.id}, view ${v.name}`);
      return { tokens: t.tokens, slices: t.slices };
    });
    return {
      id: c.id,
      ...views[0]!,
      ...(views.length > 1 ? { moreViews: views.slice(1) } : {}),
      labels: Array.from(c.labels),
    };
  });
}
