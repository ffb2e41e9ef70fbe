import { stat } from 'node:fs/promises';
import { volumePixels } from '@anymc3d/core/benchmark';
import { readCaseImage } from '@anymc3d/core/datasets';
import type { ViewInput } from '@anymc3d/core/pipeline';
import { type PluginInput, prepareVolume } from '@anymc3d/core/plugin';
import type { ManifestCase } from '@anymc3d/core/task';
import type { VolumeCase, VolumeView } from '@anymc3d/core/train';

/** Prepared cases kept at once: a LoRA step reads its case's pixels once per recompute chunk and view. */
const KEEP = 4;

/**
 * Manifest cases as LoRA training cases, read from disk on demand. Each view's volume is prepared
 * exactly as the frozen path prepares it (`prepareVolume` of the plugin input, then the view's
 * slices), but only when core's trainer awaits the case's `load`, and only the last few stay: float
 * pixels are ~50× the voxels, so a training set is never held as network input at once. The
 * `contentKey` (files, sizes, mtimes, preprocessing) keys the resume checkpoint without reading
 * every volume first.
 */
export async function volumeCases(
  cases: readonly ManifestCase[],
  input: PluginInput,
  views: readonly ViewInput[],
): Promise<VolumeCase[]> {
  const recent = new Map<string, VolumeView[]>();
  const resident = (c: ManifestCase): VolumeView[] => {
    const p = recent.get(c.id);
    if (!p) throw new Error(`case ${c.id}: pixels asked for before the case was loaded`);
    return p;
  };
  const load = async (c: ManifestCase): Promise<void> => {
    const kept = recent.get(c.id);
    recent.delete(c.id);
    if (!kept) {
      const prepared: VolumeView[] = [];
      for (const [v, view] of views.entries())
        prepared.push(volumePixels(prepareVolume(input, await readCaseImage(c.images[v]!)), view));
      if (recent.size >= KEEP) recent.delete(recent.keys().next().value!);
      recent.set(c.id, prepared);
    } else recent.set(c.id, kept); // most recently used last
  };
  const out: VolumeCase[] = [];
  for (const c of cases) {
    const files = [];
    for (const path of c.images.slice(0, views.length)) {
      const s = await stat(path);
      files.push({ path, size: s.size, mtime: s.mtimeMs });
    }
    const vc: VolumeCase = {
      id: c.id,
      labels: Array.from(c.labels),
      contentKey: JSON.stringify({ files, views, normalisation: input.normalisation }),
      load: () => load(c),
      get pixels() {
        return resident(c)[0]!.pixels;
      },
      get slices() {
        return resident(c)[0]!.slices;
      },
    };
    if (views.length > 1) Object.defineProperty(vc, 'moreViews', { enumerable: true, get: () => resident(c).slice(1) });
    out.push(vc);
  }
  return out;
}
