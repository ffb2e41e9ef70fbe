import type { BackboneEmbedder } from '../backbone/embedder.js';
import type { FeatureCache } from '../features/cache.js';
import { InputError } from '../util/errors.js';
import type { Processed } from '../volume/record.js';
import type { Volume } from '../volume/types.js';
import { embedVolume, type ViewInput } from './embed-volume.js';

/** A case as the feature stage sees it: an id, how to read the volume for each view, and its cache entry. */
export interface CaseVolumes {
  id: string;
  /** The volume a view reads, prepared by the recipe (a Processed volume keeps its record). */
  load(view: string): Promise<Volume | Processed>;
  /** The name of a view's entry in the feature cache: what the volume holds (a content digest), not the case id. */
  entry(view: string): Promise<string>;
}

/** Per-slice CLS tokens of one view of one case. */
export interface ViewTokens {
  tokens: Float32Array;
  slices: number;
  dim: number;
}

export interface ViewTokenProgress {
  done: number;
  total: number;
  computed: number;
  fromCache: number;
  slicesPerSecond: number;
}

/**
 * The frozen backbone's per-slice tokens for every case and view, read from the cache where
 * present and computed (then cached, atomically) where not — so an interrupted run continues
 * where it stopped, and repeated runs never touch the backbone.
 */
export async function viewTokens(
  cases: readonly CaseVolumes[],
  views: readonly ViewInput[],
  embedder: BackboneEmbedder,
  /** Absent: nothing is read from or written to a cache. */
  cache: FeatureCache | undefined,
  onProgress?: (p: ViewTokenProgress) => void,
): Promise<Map<string, Map<string, ViewTokens>>> {
  const out = new Map<string, Map<string, ViewTokens>>();
  const total = cases.length * views.length;
  let done = 0;
  let computed = 0;
  let fromCache = 0;
  let slicesComputed = 0;
  const started = Date.now();
  for (const c of cases) {
    const perView = new Map<string, ViewTokens>();
    for (const view of views) {
      let cls: { dims: readonly number[]; data: Float32Array };
      const entry = cache ? await c.entry(view.name) : '';
      if (cache?.has(entry, view.name)) {
        const stored = (await cache.read(entry, view.name)).get('cls');
        if (stored?.dims.length !== 2) {
          throw new InputError(cache.dir, `cached entry for case ${c.id}, view ${view.name} has no [S, d] cls tensor`);
        }
        cls = { dims: stored.dims, data: stored.data as Float32Array };
        fromCache++;
      } else {
        const e = await embedVolume(await c.load(view.name), view, embedder);
        await cache?.write(entry, view.name, { cls: e.cls }, { case: c.id });
        cls = { dims: e.cls.dims, data: e.cls.data as Float32Array };
        computed++;
        slicesComputed += e.cls.dims[0]!;
      }
      perView.set(view.name, { tokens: cls.data, slices: cls.dims[0]!, dim: cls.dims[1]! });
      done++;
      const seconds = (Date.now() - started) / 1000;
      onProgress?.({ done, total, computed, fromCache, slicesPerSecond: seconds > 0 ? slicesComputed / seconds : 0 });
    }
    out.set(c.id, perView);
  }
  return out;
}
