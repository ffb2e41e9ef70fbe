import type { Backbone } from '@anymc3d/core/backbone';
import { FrozenEmbedder } from '@anymc3d/core/backbone';
import type { FeatureCache } from '@anymc3d/core/features';
import type { Device } from '@anymc3d/core/graph';
import type { ManifestCase } from '@anymc3d/core/task';
import type { FeatureCase } from '@anymc3d/core/train';
import type { CaseInput } from './preprocess.js';

export interface TokenSets {
  train: FeatureCase[];
  val: FeatureCase[];
}

/**
 * The frozen mode's data: every train/val volume prepared by `read` (as `run` prepares it) and
 * embedded once by the frozen backbone, its CLS tokens cached under `cache` when given.
 */
export async function frozenTokens(args: {
  backbone: Backbone;
  train: readonly ManifestCase[];
  val: readonly ManifestCase[];
  read: (path: string) => Promise<CaseInput>;
  size: number;
  cache?: FeatureCache;
  device?: Device;
  threads?: number;
  log: (line: string) => void;
}): Promise<TokenSets> {
  const { backbone, cache, size, log } = args;
  const embedder = new FrozenEmbedder(backbone, {
    ...(args.device ? { device: args.device } : {}),
    ...(args.threads ? { threads: args.threads } : {}),
  });
  const features = async (cases: readonly ManifestCase[], what: string): Promise<FeatureCase[]> => {
    const out: FeatureCase[] = [];
    const started = Date.now();
    for (const [k, c] of cases.entries()) {
      let tokens: Float32Array;
      if (cache?.has(c.id, 'axial')) {
        tokens = (await cache.read(c.id, 'axial')).get('cls')!.data as Float32Array;
      } else {
        const prepared = await args.read(c.images[0]!);
        const e = await embedder.embed({
          dtype: 'float32',
          dims: [prepared.slices, 3, size, size],
          data: prepared.pixels,
        });
        tokens = e.cls.data as Float32Array;
        await cache?.write(c.id, 'axial', { cls: e.cls });
      }
      out.push({ id: c.id, tokens, slices: tokens.length / backbone.card.embedDim, labels: Array.from(c.labels) });
      if ((k + 1) % 50 === 0 || k + 1 === cases.length)
        log(`${what}: ${k + 1}/${cases.length} embedded (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    return out;
  };
  try {
    return { train: await features(args.train, 'train'), val: await features(args.val, 'val') };
  } finally {
    await embedder.release();
  }
}
