import { stat } from 'node:fs/promises';
import { imageFileOf } from '../datasets/index.js';
import { atSliceCount, type ViewInput, volumePixels } from '../pipeline/index.js';
import { augmentCase, type PluginInput, prepareCaseMask, recipeKey } from '../plugin/index.js';
import type { ManifestCase } from '../task/index.js';
import type { CaseUse, VolumeCase, VolumeView } from '../train/index.js';
import { checkMaskGeometry, type Processed, type Rescale, readVolume, type Volume } from '../volume/index.js';
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
export interface VolumeCaseOptions {
  /** The backbone's patch size, for cases with a manifest `mask` (the seg decoder's target). */
  seg?: { patch: number; labels?: readonly number[] };
  /** The rescale of a raw CT file (CT-RATE v1's metadata); never applied to voxels already in HU. */
  rescaleOf?: (path: string) => Rescale | undefined;
  /** After each read of a case's files: reads so far and the seconds they took. */
  onRead?: (reads: number, seconds: number) => void;
}

export async function volumeCases(
  cases: readonly ManifestCase[],
  input: PluginInput,
  views: readonly ViewInput[],
  options: VolumeCaseOptions = {},
): Promise<VolumeCase[]> {
  // With augmentation, the prepared volumes of the last few cases (reading and preparing is the slow part);
  // and the pixels of each case's latest use (a fresh augmentation per use when the recipe has one).
  const volumes = new Map<string, { volumes: Processed[]; mask?: Volume }>();
  const recent = new Map<string, { views: VolumeView[]; segMask?: Float32Array }>();
  const resident = (c: ManifestCase) => {
    const p = recent.get(c.id);
    if (!p) throw new Error(`case ${c.id}: pixels asked for before the case was loaded`);
    return p;
  };
  const keep = <T>(map: Map<string, T>, id: string, value: T) => {
    map.delete(id);
    if (map.size >= KEEP) map.delete(map.keys().next().value!);
    map.set(id, value); // most recently used last
  };
  const { seg, rescaleOf, onRead } = options;
  let reads = 0;
  let seconds = 0;
  const prepared = async (c: ManifestCase) => {
    const kept = volumes.get(c.id);
    if (kept) return kept;
    const started = Date.now();
    const vs = await caseViewVolumes(c, input, views.length, rescaleOf);
    seconds += (Date.now() - started) / 1000;
    onRead?.(++reads, seconds);
    // The mask on the prepared grid (same spatial steps as its image, nearest).
    const mask = seg && c.mask ? await readSegMask(c.mask, c.images[0]!, vs[0]!, input) : undefined;
    const entry = mask ? { volumes: vs, mask } : { volumes: vs };
    // Kept only to augment them again at the next use; without augmentation the pixels are what is kept.
    if (input.augmentation) keep(volumes, c.id, entry);
    return entry;
  };
  const load = async (c: ManifestCase, use?: CaseUse): Promise<void> => {
    const augmenting = !!(input.augmentation && use);
    if (!augmenting && recent.has(c.id)) {
      keep(recent, c.id, recent.get(c.id)!);
      return;
    }
    const base = await prepared(c);
    let vs = base.volumes;
    let mask = base.mask;
    if (augmenting) {
      // One draw per distinct image (views of one volume share it); co-registered images get the same spatial draw.
      const done = new Map<Processed, Processed>();
      vs = vs.map((v, k) => {
        let a = done.get(v);
        if (!a) {
          const out = augmentCase(v, k === 0 ? base.mask : undefined, input, c.id, use!);
          a = out.volume;
          if (k === 0) mask = out.mask;
          done.set(v, a);
        }
        return a;
      });
    }
    const pixels: VolumeView[] = views.map((view, v) => volumePixels(vs[v]!, view));
    const segMask =
      seg && mask
        ? maskTokenGrid(atSliceCount(mask, views[0]!, 'nearest').volume, views[0]!, seg.patch, seg.labels).data
        : undefined;
    keep(recent, c.id, segMask ? { views: pixels, segMask } : { views: pixels });
  };
  const out: VolumeCase[] = [];
  for (const c of cases) {
    const files = [];
    const masked = !!(seg && c.mask);
    for (const path of [...c.images.slice(0, views.length), ...(masked ? [c.mask!] : [])]) {
      const s = await stat(imageFileOf(path)); // an .npz reference's archive
      files.push({ path, size: s.size, mtime: s.mtimeMs });
    }
    const vc: VolumeCase = {
      id: c.id,
      labels: Array.from(c.labels),
      contentKey: JSON.stringify({
        files,
        views,
        ...recipeKey(input),
        augmentation: input.augmentation ?? null,
        ...(rescaleOf ? { rescale: files.map((f) => rescaleOf(f.path) ?? null) } : {}),
      }),
      load: (use) => load(c, use),
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

/** A case's mask on its image's prepared grid; a mask off the image's grid as read is an error naming both files. */
async function readSegMask(maskPath: string, imagePath: string, image: Processed, input: PluginInput): Promise<Volume> {
  const { volume } = await readVolume(maskPath);
  // The mask must share the image's grid as read; then it takes the recipe's spatial steps (nearest).
  checkMaskGeometry(`${maskPath} (mask of ${imagePath})`, volume, image.record.source);
  return prepareCaseMask(volume, input);
}
