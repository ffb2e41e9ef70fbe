import { stat } from 'node:fs/promises';
import { volumePixels } from '@anymc3d/core/benchmark';
import type { ViewInput } from '@anymc3d/core/pipeline';
import { type PluginInput, prepareCaseMask, recipeKey } from '@anymc3d/core/plugin';
import type { ManifestCase } from '@anymc3d/core/task';
import type { VolumeCase, VolumeView } from '@anymc3d/core/train';
import { checkMaskGeometry, type Processed, readVolume } from '@anymc3d/core/volume';
import { caseViewVolumes } from './case-volumes.js';
import { maskTokenGrid } from './seg-mask.js';

/** Prepared cases kept at once: a LoRA step reads its case's pixels once per recompute chunk and view. */
const KEEP = 4;

/**
 * Manifest cases as LoRA training cases, read from disk on demand. Each view's volume is prepared
 * exactly as the frozen path prepares it (`prepareVolume` of the plugin input, then the view's
 * slices), but only when core's trainer awaits the case's `load`, and only the last few stay: float
 * pixels are ~50× the voxels, so a training set is never held as network input at once. The
 * `contentKey` (files, sizes, mtimes, preprocessing) keys the resume checkpoint without reading
 * every volume first.
 *
 * With `seg` (the backbone's patch size), a case with a manifest `mask` also gets its `segMask`, read
 * on the same demand: the mask must share the first image's geometry, and is sliced as the first
 * view slices it, then reduced to the token grid (`maskTokenGrid`). Cases without one get none.
 */
export async function volumeCases(
  cases: readonly ManifestCase[],
  input: PluginInput,
  views: readonly ViewInput[],
  seg?: { patch: number },
): Promise<VolumeCase[]> {
  const recent = new Map<string, { views: VolumeView[]; segMask?: Float32Array }>();
  const resident = (c: ManifestCase) => {
    const p = recent.get(c.id);
    if (!p) throw new Error(`case ${c.id}: pixels asked for before the case was loaded`);
    return p;
  };
  const load = async (c: ManifestCase): Promise<void> => {
    const kept = recent.get(c.id);
    recent.delete(c.id);
    if (!kept) {
      const volumes = await caseViewVolumes(c, input, views.length);
      const prepared: VolumeView[] = views.map((view, v) => volumePixels(volumes[v]!, view));
      // Preparing keeps the image's grid, so the first view's volume is what the mask must match.
      const segMask =
        seg && c.mask ? await readSegMask(c.mask, c.images[0]!, volumes[0]!, input, views[0]!, seg.patch) : undefined;
      if (recent.size >= KEEP) recent.delete(recent.keys().next().value!);
      recent.set(c.id, segMask ? { views: prepared, segMask } : { views: prepared });
    } else recent.set(c.id, kept); // most recently used last
  };
  const out: VolumeCase[] = [];
  for (const c of cases) {
    const files = [];
    const masked = !!(seg && c.mask);
    for (const path of [...c.images.slice(0, views.length), ...(masked ? [c.mask!] : [])]) {
      const s = await stat(path);
      files.push({ path, size: s.size, mtime: s.mtimeMs });
    }
    const vc: VolumeCase = {
      id: c.id,
      labels: Array.from(c.labels),
      contentKey: JSON.stringify({ files, views, ...recipeKey(input) }),
      load: () => load(c),
      get pixels() {
        return resident(c).views[0]!.pixels;
      },
      get slices() {
        return resident(c).views[0]!.slices;
      },
    };
    if (views.length > 1)
      Object.defineProperty(vc, 'moreViews', { enumerable: true, get: () => resident(c).views.slice(1) });
    if (masked) {
      vc.hasSegMask = true;
      Object.defineProperty(vc, 'segMask', { enumerable: true, get: () => resident(c).segMask });
    }
    out.push(vc);
  }
  return out;
}

/** A case's mask on its first view's token grid; a mask off the image's grid is an error naming both files. */
async function readSegMask(
  maskPath: string,
  imagePath: string,
  image: Processed,
  input: PluginInput,
  view: ViewInput,
  patch: number,
): Promise<Float32Array> {
  const { volume } = await readVolume(maskPath);
  // The mask must share the image's grid as read; then it takes the recipe's spatial steps (nearest).
  checkMaskGeometry(`${maskPath} (mask of ${imagePath})`, volume, image.record.source);
  return maskTokenGrid(prepareCaseMask(volume, input, view), view, patch).data;
}
