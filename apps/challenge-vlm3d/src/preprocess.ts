import type { BackboneCard } from '@anymc3d/core/backbone';
import { inputViews, type PluginInput, prepareVolume } from '@anymc3d/core/plugin';
import { InputError } from '@anymc3d/core/util';
import {
  checkFinite,
  orientationCode,
  percentile,
  readVolume,
  reorient,
  resampleToSpacing,
  sliceBatches,
  type Volume,
} from '@anymc3d/core/volume';
import { type IntensitySummary, rescaleToHounsfield } from './hounsfield.js';
import type { Vlm3dSettings } from './weights.js';

export interface Rescale {
  slope: number;
  intercept: number;
}

/** At most this many voxels are sorted for the percentile (an even stride over the volume). */
const SUMMARY_SAMPLE = 1 << 18;

export function intensitySummary(data: ArrayLike<number>): IntensitySummary {
  const stride = Math.max(1, Math.floor(data.length / SUMMARY_SAMPLE));
  const sample = new Float64Array(Math.ceil(data.length / stride));
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  for (let i = 0, k = 0; i < data.length; i += stride, k++) sample[k] = data[i]!;
  sample.sort();
  return { min, p01: percentile(sample, 1), max };
}

/**
 * The volume in Hounsfield units (float32 when a rescale was applied). A header rescale (NIfTI scl_slope, DICOM) is already
 * applied by the reader; voxels that still look raw need `rescale` (e.g. CT-RATE's metadata), and
 * HU voxels are never rescaled again whatever `rescale` says.
 */
export function toHounsfield(volume: Volume, source: string, rescale?: Rescale): { volume: Volume; applied: Rescale } {
  let applied: Rescale;
  try {
    applied = rescaleToHounsfield(intensitySummary(volume.data), rescale);
  } catch (error) {
    throw new InputError(source, (error as Error).message, { cause: error });
  }
  // HU voxels go on as they are (no copy of a 150 MB volume); raw ones become float32 HU.
  if (applied.slope === 1 && applied.intercept === 0) return { volume, applied };
  const out = new Float32Array(volume.data.length);
  for (let i = 0; i < out.length; i++) out[i] = volume.data[i]! * applied.slope + applied.intercept;
  return { volume: { ...volume, data: out }, applied };
}

export interface CaseInput {
  /** Backbone-ready pixels [slices, 3, H, W]. */
  pixels: Float32Array;
  slices: number;
  /** The rescale applied to reach HU (slope 1, intercept 0 when the voxels already were HU). */
  rescale: Rescale;
}

/**
 * One CT volume → backbone input, exactly as the plugin was trained: HU, canonical orientation and
 * the settings' spacing around the plugin's input (`pluginInput` of its card: its normalisation,
 * none for CT, then slices along its view's axis at its size through its windows, the chest set),
 * normalised with the backbone's mean/std. Shared by `run` and training.
 */
export function prepareCase(
  volume: Volume,
  source: string,
  input: PluginInput,
  backbone: Pick<BackboneCard, 'mean' | 'std' | 'patchSize'>,
  settings: Pick<Vlm3dSettings, 'orientation' | 'spacing'>,
  rescale?: Rescale,
): CaseInput {
  checkFinite(source, volume);
  const [view, more] = inputViews(input, backbone);
  if (!view || more) throw new InputError(source, `the plugin reads ${input.views.length} views; vlm3d runs one`);
  const hu = toHounsfield(volume, source, rescale);
  // The input's normalisation (none for CT in HU) on the volume as read, as the CLI applies it.
  const normalised = prepareVolume(input, hu.volume);
  // Most CT is stored in the canonical orientation already: skip the full-size permutation copy.
  const oriented =
    orientationCode(hu.volume.direction) === settings.orientation.toUpperCase()
      ? normalised
      : reorient(normalised, settings.orientation);
  const grid = resampleToSpacing(oriented, settings.spacing);
  const batches = sliceBatches(grid, { ...view, ...(backbone.patchSize ? { patch: backbone.patchSize } : {}) });
  const per = 3 * batches.height * batches.width;
  const pixels = new Float32Array(batches.slices * per);
  for (const b of batches) pixels.set(b.data, b.start * per);
  return { pixels, slices: batches.slices, rescale: hu.applied };
}

/** Reads and prepares one file; every failure names the file. */
export async function readCase(
  path: string,
  input: PluginInput,
  backbone: Pick<BackboneCard, 'mean' | 'std' | 'patchSize'>,
  settings: Pick<Vlm3dSettings, 'orientation' | 'spacing'>,
  rescale?: Rescale,
): Promise<CaseInput> {
  const { volume } = await readVolume(path);
  return prepareCase(volume, path, input, backbone, settings, rescale);
}
