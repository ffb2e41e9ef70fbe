import { env as ortEnv } from 'onnxruntime-node';
import { augment3d } from '../augment/augment.js';
import { FeatureCache } from '../features/cache.js';
import type { Precision } from '../graph/index.js';
import { atSliceCount, type ViewInput } from '../pipeline/embed-volume.js';
import { InputError } from '../util/errors.js';
import { Random } from '../util/random.js';
import { CORE_VERSION } from '../version.js';
import { orientationCode } from '../volume/geometry.js';
import { type Rescale, toHounsfield } from '../volume/hounsfield.js';
import { asProcessed, type Processed } from '../volume/record.js';
import { reorient, reorientPlan, resampleToSize, sizeForSpacing } from '../volume/spatial.js';
import type { Grid, Vec3, Volume } from '../volume/types.js';
import { checkFinite } from '../volume/validate.js';
import type { SliceAxis } from '../volume/views.js';
import { type PluginInput, prepareVolume } from './input.js';

/** More voxels along one axis than any CT or MRI has: a spacing that would make this is a mistake. */
const MAX_AXIS = 4096;

export interface PreparedCase {
  /** The volume on the recipe's grid, with the record that maps it back to the voxels read. */
  volume: Processed;
  /** The rescale applied to reach HU (slope 1, intercept 0 when none was needed or the input is not CT). */
  rescale: Rescale;
}

/**
 * A case's image as the plugin's recipe (`plugin.json` `input`) prepares it, before any view slices
 * it — the one place every consumer (features, train, predict, heatmap, the server, vlm3d, the
 * benchmark) turns a read volume into what the views read: NaN refused; CT checked or rescaled to
 * Hounsfield units (`intensity: 'ct-hu'`; `rescale` for raw voxels, never applied to HU); the MRI
 * normalisation; the canonical orientation (axes permuted and flipped, no interpolation); the
 * target spacing (trilinear). Every step is recorded, so heatmaps land back on the input grid.
 * A recipe that cannot be applied names the file and the field.
 */
export function prepareCaseVolume(volume: Volume, input: PluginInput, source: string, rescale?: Rescale): PreparedCase {
  checkFinite(source, volume);
  let applied: Rescale = { slope: 1, intercept: 0 };
  let v = volume;
  if (input.intensity === 'ct-hu') {
    try {
      const hu = toHounsfield(volume, source, rescale);
      v = hu.volume;
      applied = hu.applied;
    } catch (error) {
      if (error instanceof InputError) throw new InputError(source, `input.intensity "ct-hu": ${error.problem}`);
      throw error;
    }
  }
  const normalised: Processed = { volume: prepareVolume(input, v), record: asProcessed(volume).record };
  const out = onRecipeGrid(normalised, input, source, 'linear');
  return { volume: out, rescale: applied };
}

/**
 * A mask (seg target) through the same spatial steps as its image (`prepareCaseVolume`), sampled
 * nearest so labels stay labels: the canonical orientation, the target spacing, and a view's fixed
 * slice count when it has one. The result lies on the grid the view slices its image from.
 */
export function prepareCaseMask(mask: Volume, input: PluginInput, view?: { axis: SliceAxis; slices?: number }): Volume {
  const out = onRecipeGrid(asProcessed(mask), input, 'the mask', 'nearest');
  return (view ? atSliceCount(out, view, 'nearest') : out).volume;
}

/**
 * The recipe's spatial steps, the same for an image (linear) and its mask (nearest): the canonical
 * orientation (axes permuted and flipped, no interpolation; skipped when the volume is stored so
 * already, as most CT is), then the target spacing, refused when it would make absurd voxel counts.
 */
function onRecipeGrid(
  input: Processed,
  recipe: PluginInput,
  source: string,
  interpolation: 'linear' | 'nearest',
): Processed {
  const wanted = recipe.orientation?.toUpperCase();
  const orientation = wanted && orientationCode(input.volume.direction) !== wanted ? wanted : undefined;
  const oriented = <T>(step: () => T): T => {
    try {
      return step();
    } catch (error) {
      throw new InputError(source, `input.orientation "${recipe.orientation}": ${(error as Error).message}`);
    }
  };
  if (!recipe.spacing) return orientation ? oriented(() => reorient(input, orientation)) : input;
  const spacing = recipe.spacing as Vec3;
  // The grid the spacing applies to: the reoriented one (reorientation and resampling are one pass).
  const from: Grid = orientation ? oriented(() => reorientPlan(input.volume, orientation).grid) : input.volume;
  const size = sizeForSpacing(from, spacing);
  if (size.some((n) => n > MAX_AXIS || n < 1))
    throw new InputError(
      source,
      `input.spacing ${spacing.join('×')} mm would make ${size.join('×')} voxels from ` +
        `${from.size.join('×')} at ${from.spacing.map((x) => +x.toFixed(3)).join('×')} mm ` +
        `(at most ${MAX_AXIS} per axis): check the recipe's spacing or the file's header`,
    );
  return resampleToSize(input, size, { interpolation, ...(orientation ? { orientation } : {}) });
}

/** A recipe's fields that change the pixels beyond the views: part of every feature-cache and checkpoint key. */
export function recipeKey(input: PluginInput): Record<string, unknown> {
  return {
    normalisation: input.normalisation,
    ...(input.intensity && input.intensity !== 'as-read' ? { intensity: input.intensity } : {}),
    ...(input.orientation ? { orientation: input.orientation.toUpperCase() } : {}),
    ...(input.spacing ? { spacing: input.spacing } : {}),
  };
}

/**
 * The one feature cache of a recipe: the folder is keyed by the backbone's weights, the views
 * (plane, size, channels, mean/std, fixed slices), the recipe's intensity, normalisation,
 * orientation and spacing, the precision (at int8, with the backbone's own integer method where it has one)
 * and the engine (core and ONNX Runtime versions), so every consumer that prepares cases the same way
 * (`anymc3d features|train|predict`, `vlm3d train --mode frozen`, the benchmark) finds the others'
 * tokens, and a change of any of them can never serve stale ones. Entries are per case content and view.
 */
export function recipeFeatureCache(
  root: string,
  backbone: { weightHash: string; integerMethod?: string },
  input: PluginInput,
  views: readonly ViewInput[],
  precision: Precision = 'fp32',
): FeatureCache {
  return new FeatureCache(root, {
    backboneHash: backbone.weightHash,
    // `entries`: entries are named by content digests (`caseSources`), not by case ids as before.
    // `engine`: another core or ONNX Runtime may compute other tokens, so it keys a cache of its own.
    preprocessing: {
      entries: 'content-sha256',
      engine: { core: CORE_VERSION, onnxruntime: ortEnv.versions.common },
      views,
      ...recipeKey(input),
      ...(precision !== 'fp32' ? { precision } : {}),
      ...(precision === 'int8' && backbone.integerMethod ? { integerMethod: backbone.integerMethod } : {}),
    },
  });
}

/**
 * One training use of a prepared case through the recipe's augmentation (none recorded: the case as
 * it is): the spatial transform moves image and mask together on the prepared grid (the geometry
 * and the record are kept, so the views slice it as usual), intensity changes act in z-score units.
 * The generator is seeded from the recipe's seed, the case and the use, so a run and its resume,
 * or two runs with one seed, draw the same transforms.
 */
export function augmentCase(
  prepared: Processed,
  mask: Volume | undefined,
  input: PluginInput,
  caseId: string,
  use: { step: number; micro: number; slot: number },
): { volume: Processed; mask?: Volume } {
  const a = input.augmentation;
  if (!a) return mask ? { volume: prepared, mask } : { volume: prepared };
  const rng = Random.fromString(a.seed, `${caseId}\u0000${use.step}\u0000${use.micro}\u0000${use.slot}`);
  const out = augment3d(prepared.volume, mask, rng, a.config, 'zscore');
  const volume = { volume: out.image, record: prepared.record };
  return out.mask ? { volume, mask: out.mask } : { volume };
}
