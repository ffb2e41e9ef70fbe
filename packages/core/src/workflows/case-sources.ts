import { createHash } from 'node:crypto';
import { imageDigest } from '../datasets/index.js';
import type { CaseVolumes } from '../pipeline/index.js';
import type { PluginInput } from '../plugin/index.js';
import type { ManifestCase } from '../task/index.js';
import type { Processed, Rescale } from '../volume/index.js';
import { caseViewVolumes } from './case-volumes.js';

/**
 * Manifest cases as the feature stage reads them — the one builder `anymc3d features|train|predict`,
 * `vlm3d train` and the benchmark share. A view reads the case's image in the recipe's view order,
 * prepared by the plugin's recipe (`prepareCaseVolume`); views of one file read and prepare it once.
 * A case's cache entry is named by what it holds (the image's content digest and any rescale), not
 * by its id, so every consumer, dataset and machine that meets the same volume finds its tokens.
 */
export function caseSources(
  cases: readonly ManifestCase[],
  input: PluginInput,
  options: {
    /** The rescale of a raw CT file (CT-RATE v1's metadata); never applied to voxels already in HU. */
    rescaleOf?: (path: string) => Rescale | undefined;
    /** Where digests are kept across runs: the feature cache's `digestIndex`. */
    digestIndex?: string;
  } = {},
): CaseVolumes[] {
  const { rescaleOf, digestIndex } = options;
  const viewIndex = new Map(input.views.map((v, k) => [v.name, k]));
  const pathOf = (c: ManifestCase, view: string): string => {
    const k = viewIndex.get(view);
    const path = k === undefined ? undefined : c.images[k];
    if (path === undefined)
      throw new Error(
        `case ${c.id}: no image for view "${view}" (the recipe's views: ${[...viewIndex.keys()].join(', ')})`,
      );
    return path;
  };
  return cases.map((c) => {
    // Read when its first view is asked for, by the reader LoRA training uses too; a file several views read once.
    let volumes: Promise<Processed[]> | undefined;
    // Kept only until every view has had its volume: the sources of a whole dataset live as long
    // as the run, and holding each case's volumes (a 64³ MedMNIST case: 256 KB) after its tokens
    // were computed added 0.44 GB to the demo's peak. A view asked for again reads again.
    const waiting = new Set(viewIndex.keys());
    return {
      id: c.id,
      load: async (view) => {
        pathOf(c, view);
        volumes ??= caseViewVolumes(c, input, input.views.length, rescaleOf);
        const read = volumes;
        waiting.delete(view);
        if (waiting.size === 0) volumes = undefined;
        return (await read)[viewIndex.get(view)!]!;
      },
      entry: async (view) => {
        const path = pathOf(c, view);
        const rescale = rescaleOf?.(path);
        const digest = await imageDigest(path, digestIndex);
        return rescale
          ? createHash('sha256')
              .update(`${digest}\u0000${JSON.stringify(rescale)}`)
              .digest('hex')
          : digest;
      },
    };
  });
}
