/**
 * CT-RATE's v2 volumes are already in Hounsfield units; the first release stored raw values
 * that needed the metadata's slope and intercept. Re-applying a rescale to HU data corrupts it
 * silently (CT-CLIP#50), so the product decides from the voxels, not from a CSV.
 */
export type IntensityUnits = 'hounsfield' | 'raw';

export interface IntensitySummary {
  min: number;
  /** 1st percentile; robust to a few padding voxels. */
  p01: number;
  max: number;
}

/**
 * Air is about −1000 HU, and chest CT always contains air. HU data has a low percentile near
 * −1000 (padding at −1024, −2048 or −3024 is common); raw scanner values are non-negative.
 */
export function detectUnits(s: IntensitySummary): IntensityUnits {
  if (s.p01 < -500) return 'hounsfield';
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
  if (p01 > -500) {
    throw new Error(
      `applying slope ${rescale.slope} and intercept ${rescale.intercept} does not give air near −1000 HU (1st percentile ${p01})`,
    );
  }
  return rescale;
}
