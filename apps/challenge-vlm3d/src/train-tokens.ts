import { type Backbone, BackboneEmbedder } from '@anymc3d/core/backbone';
import type { Device, Precision } from '@anymc3d/core/graph';
import { viewTokens } from '@anymc3d/core/pipeline';
import { inputViews, type PluginInput, recipeFeatureCache } from '@anymc3d/core/plugin';
import type { ManifestCase } from '@anymc3d/core/task';
import type { FeatureCase } from '@anymc3d/core/train';
import type { Rescale } from '@anymc3d/core/volume';
import { caseSources } from '@anymc3d/core/workflows';

export interface TokenSets {
  train: FeatureCase[];
  val: FeatureCase[];
  /** Volumes that went through the backbone (the rest came from the cache). */
  computed: number;
  cacheDir?: string;
}

/**
 * The frozen mode's data through core's one token path (`viewTokens`): every train/val volume
 * prepared by the plugin's recipe, embedded once by the frozen backbone, its CLS tokens in the
 * recipe's feature cache when `cacheRoot` is given — the same folder `anymc3d features|train`
 * uses for the same recipe and backbone, so tokens made by either are found by the other.
 */
export async function frozenTokens(args: {
  backbone: Backbone;
  input: PluginInput;
  train: readonly ManifestCase[];
  val: readonly ManifestCase[];
  rescaleOf: (path: string) => Rescale | undefined;
  cacheRoot?: string;
  device?: Device;
  threads?: number;
  /** The frozen backbone's arithmetic (default fp32); its tokens are cached apart. */
  precision?: Precision;
  log: (line: string) => void;
}): Promise<TokenSets> {
  const { backbone, input, log } = args;
  const views = inputViews(input, backbone.card);
  const embedder = new BackboneEmbedder(backbone, {
    batchSize: 16,
    ...(args.device ? { device: args.device } : {}),
    ...(args.threads ? { threads: args.threads } : {}),
    ...(args.precision ? { precision: args.precision } : {}),
  });
  const cache = args.cacheRoot
    ? recipeFeatureCache(args.cacheRoot, backbone, input, views, args.precision ?? 'fp32')
    : undefined;
  let computed = 0;
  const features = async (cases: readonly ManifestCase[], what: string): Promise<FeatureCase[]> => {
    const started = Date.now();
    const tokens = await viewTokens(
      caseSources(cases, input, { rescaleOf: args.rescaleOf, ...(cache ? { digestIndex: cache.digestIndex } : {}) }),
      views,
      embedder,
      cache,
      (p) => {
        if (p.done % 50 === 0 || p.done === p.total)
          log(
            `${what}: ${p.done}/${p.total} embedded (${p.computed} through the backbone, ${p.fromCache} from the cache; ` +
              `${((Date.now() - started) / 1000).toFixed(0)} s)`,
          );
        if (p.done === p.total) computed += p.computed;
      },
    );
    return cases.map((c) => {
      const t = tokens.get(c.id)!.get(views[0]!.name)!;
      return { id: c.id, tokens: t.tokens, slices: t.slices, labels: Array.from(c.labels) };
    });
  };
  try {
    const train = await features(args.train, 'train');
    const val = await features(args.val, 'val');
    return { train, val, computed, ...(cache ? { cacheDir: cache.dir } : {}) };
  } finally {
    await embedder.release();
  }
}
