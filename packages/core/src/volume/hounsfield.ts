import { InputError } from '../util/errors.js';
import { percentile } from './intensity.js';
import type { Volume } from './types.js';

/**
 * CT in Hounsfield units, decided from the voxels: CT-RATE's v2 volumes are HU already, its first
 * release stored raw values that needed the metadata's slope and intercept, and re-applying a
 * rescale to HU data corrupts it silently (CT-CLIP#50). A header rescale (NIfTI scl_slope/scl_inter,
 * DICOM) is applied by the reader; this is what is left.
 */
export type IntensityUnits = 'hounsfield' | 'raw';

export interface IntensitySummary {
  min: number;
  /** 1st percentile; robust to a few padding voxels. */
  p01: number;
  max: number;
}

/** A 1st percentile below this is air: the voxels are HU. */
const AIR_BELOW = -500;

/**
 * Air is about −1000 HU, and chest CT always contains air. HU data has a low percentile near
 * −1000 (padding at −1024, −2048 or −3024 is common); raw scanner values are non-negative.
 */
export function detectUnits(s: IntensitySummary): IntensityUnits {
  if (s.p01 < AIR_BELOW) return 'hounsfield';
  if (s.min >= 0) return 'raw';
  throw new Error(
    `cannot tell whether voxels are Hounsfield units: 1st percentile ${s.p01}, min ${s.min}, max ${s.max} (expected air near −1000 HU, or non-negative raw values)`,
  );
}

/**
 * HU from raw values with the metadata rescale, refusing to rescale data that is already HU.
 * Returns the (slope, intercept) actually applied.
 */
export function rescaleToHounsfield(
  s: IntensitySummary,
  rescale: { slope: number; intercept: number } | undefined,
): { slope: number; intercept: number } {
  const units = detectUnits(s);
  if (units === 'hounsfield') return { slope: 1, intercept: 0 };
  if (!rescale) {
    throw new Error(`voxels look raw (min ${s.min}) but no RescaleSlope/RescaleIntercept is known for this volume`);
  }
  const p01 = s.p01 * rescale.slope + rescale.intercept;
  if (p01 > AIR_BELOW) {
    throw new Error(
      `applying slope ${rescale.slope} and intercept ${rescale.intercept} does not give air near −1000 HU (1st percentile ${p01})`,
    );
  }
  return rescale;
}

export interface Rescale {
  slope: number;
  intercept: number;
}

/** At most this many voxels are sorted for the percentile (an even stride over the volume). */
const SUMMARY_SAMPLE = 1 << 18;

export function intensitySummary(data: ArrayLike<number>): IntensitySummary {
  return { ...exactRange(data), p01: sampledP01(data) };
}

/** The exact minimum and maximum: a pass over every voxel. */
function exactRange(data: ArrayLike<number>): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max };
}

/** The 1st percentile of an even-stride sample of the voxels. */
function sampledP01(data: ArrayLike<number>): number {
  const stride = Math.max(1, Math.floor(data.length / SUMMARY_SAMPLE));
  const sample = new Float64Array(Math.ceil(data.length / stride));
  for (let i = 0, k = 0; i < data.length; i += stride, k++) sample[k] = data[i]!;
  sample.sort();
  return percentile(sample, 1);
}

/**
 * The volume in Hounsfield units (float32 when a rescale was applied). Voxels that still look raw
 * need `rescale` (e.g. CT-RATE's metadata); HU voxels are never rescaled again whatever `rescale`
 * says; anything else (MRI, normalised values) is refused, naming `source`.
 */
export function toHounsfield(volume: Volume, source: string, rescale?: Rescale): { volume: Volume; applied: Rescale } {
  let applied: Rescale;
  try {
    // Air in the sample settles it (HU, nothing to apply) without the exact min/max pass over
    // every voxel (0.16 s on a CT): only a volume that may be raw needs its exact minimum.
    const p01 = sampledP01(volume.data);
    applied =
      p01 < AIR_BELOW ? { slope: 1, intercept: 0 } : rescaleToHounsfield({ ...exactRange(volume.data), p01 }, rescale);
  } catch (error) {
    throw new InputError(source, (error as Error).message, { cause: error });
  }
  // HU voxels go on as they are (no copy of a 150 MB volume); raw ones become float32 HU.
  if (applied.slope === 1 && applied.intercept === 0) return { volume, applied };
  const out = new Float32Array(volume.data.length);
  for (let i = 0; i < out.length; i++) out[i] = volume.data[i]! * applied.slope + applied.intercept;
  return { volume: { ...volume, data: out }, applied };
}
