import type { ViewInput } from '../pipeline/embed-volume.js';
import { InputError } from '../util/errors.js';
import { geometryMismatch } from '../volume/geometry.js';
import { asProcessed, type Processed } from '../volume/record.js';
import type { Volume } from '../volume/types.js';

const fmt = (v: number[]) => `[${v.map((x) => +x.toFixed(6)).join(', ')}]`;

/**
 * The volume each view reads, in view order: its own when `volumes` is given (a plugin whose views
 * read different images, e.g. T1 and T2), else `volume` for every view. The per-view maps are summed
 * voxel by voxel on `volume`'s grid, so every per-view volume must share that grid exactly (as a
 * mask must share its image's, within `tolerance`); a mismatch is refused, never resampled silently.
 * `sources` names each volume's file in that error (else `source`, the plugin).
 */
export function viewVolumes(
  volume: Volume | Processed,
  views: readonly ViewInput[],
  volumes: readonly (Volume | Processed)[] | undefined,
  source: string,
  sources: readonly string[] = [],
  tolerance = 1e-4,
): readonly Processed[] {
  if (!volumes) return views.map(() => asProcessed(volume));
  if (volumes.length !== views.length)
    throw new InputError(
      source,
      `${volumes.length} volumes were given for the plugin's ${views.length} views (${views.map((v) => v.name).join(', ')}); give one per view, in that order`,
    );
  // Each view's image as read must share the heatmap's source grid (the maps are summed there).
  const grid = asProcessed(volume).record.source;
  volumes.forEach((v, i) => {
    const m = geometryMismatch(asProcessed(v).record.source, grid, tolerance);
    if (m)
      throw new InputError(
        sources[i] ?? source,
        `view "${views[i]!.name}" reads a volume whose ${m.field} ${fmt(m.a)} differs from the heatmap grid's ${fmt(m.b)} (tolerance ${tolerance}); every view's image must be on one grid (co-registered and resampled onto it) for their maps to be summed`,
      );
  });
  return volumes.map(asProcessed);
}
