import type { BackboneCard } from '@anymc3d/core/backbone';
import { volumePixels } from '@anymc3d/core/pipeline';
import { inputViews, type PluginInput, prepareCaseVolume } from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import { type Rescale, readVolume, type Volume } from '@anymc3d/core/volume';
import type { Vlm3dSettings } from './weights.js';

export type { Rescale } from '@anymc3d/core/volume';

export interface CaseInput {
  /** Backbone-ready pixels [slices, 3, H, W]. */
  pixels: Float32Array;
  slices: number;
  /** The rescale applied to reach HU (slope 1, intercept 0 when the voxels already were HU). */
  rescale: Rescale;
}

/**
 * The challenge plugin's recipe: its recorded input, which holds HU, orientation and spacing for a
 * plugin trained since they were recorded there; a plugin packaged before that takes orientation and
 * spacing from the weights folder's vlm3d.json, as it was trained. CT in HU either way.
 */
export function challengeRecipe(
  input: PluginInput,
  settings?: Pick<Vlm3dSettings, 'orientation' | 'spacing'>,
): PluginInput {
  return {
    ...input,
    intensity: 'ct-hu',
    orientation: input.orientation ?? settings?.orientation ?? null,
    spacing: input.spacing ?? settings?.spacing ?? null,
  };
}

/**
 * One CT volume → backbone input, exactly as the plugin was trained and as every other consumer
 * prepares it: core's `prepareCaseVolume` with the plugin's recipe (HU, canonical orientation,
 * spacing; `loadChallengeModel` gives the recipe of an older folder from its vlm3d.json) and the
 * view's pixels at the plugin's size through its windows, normalised with the backbone's mean/std.
 */
export function prepareCase(
  volume: Volume,
  source: string,
  input: PluginInput,
  backbone: Pick<BackboneCard, 'mean' | 'std'>,
  rescale?: Rescale,
): CaseInput {
  const recipe = challengeRecipe(input);
  const [view, more] = inputViews(recipe, backbone);
  if (!view || more) throw new InputError(source, `the plugin reads ${input.views.length} views; vlm3d runs one`);
  const prepared = prepareCaseVolume(volume, recipe, source, rescale);
  return { ...volumePixels(prepared.volume, view), rescale: prepared.rescale };
}

/** Reads and prepares one file; every failure names the file. */
export async function readCase(
  path: string,
  input: PluginInput,
  backbone: Pick<BackboneCard, 'mean' | 'std'>,
  rescale?: Rescale,
): Promise<CaseInput> {
  const { volume } = await readVolume(path);
  return prepareCase(volume, path, input, backbone, rescale);
}
