import type { Random } from '../util/random.js';
import { resampleToSize } from '../volume/spatial.js';
import { asFloat32, type Vec3, type Volume } from '../volume/types.js';
import { addGaussianNoise, applyGamma, gaussianBlur, multiplyBrightness, scaleContrast } from './intensity.js';
import { type SpatialParams, spatialIndexMap, warp } from './spatial.js';

/** Probabilities and ranges, nnU-Net's defaults unless changed. */
export interface AugmentConfig {
  /** Probability of flipping along each axis. */
  flip: number;
  rotation: { p: number; maxDegrees: Vec3 };
  scaling: { p: number; range: [number, number] };
  noise: { p: number; variance: [number, number] };
  blur: { p: number; sigma: [number, number] };
  brightness: { p: number; range: [number, number] };
  contrast: { p: number; range: [number, number] };
  lowResolution: { p: number; zoom: [number, number] };
  gamma: { p: number; range: [number, number] };
}

export const NNUNET_AUGMENT: AugmentConfig = {
  flip: 0.5,
  rotation: { p: 0.2, maxDegrees: [30, 30, 30] },
  scaling: { p: 0.2, range: [0.7, 1.4] },
  noise: { p: 0.1, variance: [0, 0.1] },
  blur: { p: 0.2, sigma: [0.5, 1] },
  brightness: { p: 0.15, range: [0.75, 1.25] },
  contrast: { p: 0.15, range: [0.75, 1.25] },
  lowResolution: { p: 0.25, zoom: [0.5, 1] },
  gamma: { p: 0.3, range: [0.7, 1.5] },
};

/** What was drawn for one sample (for logs and reproducibility checks). */
export interface AugmentApplied {
  spatial: SpatialParams | null;
  noiseStd?: number;
  blurSigma?: number;
  brightness?: number;
  contrast?: number;
  lowResolutionZoom?: number;
  gamma?: number;
}

export interface Augmented {
  /** float32 image on the input grid. */
  image: Volume;
  /** The mask moved by the same spatial transform (nearest, type kept). */
  mask?: Volume;
  applied: AugmentApplied;
}

/**
 * nnU-Net-style 3D augmentation from a seeded generator: one spatial transform (flips,
 * rotation, scaling) applied identically to image and mask, then intensity changes on the image.
 * Geometry (size, spacing, origin, direction) is unchanged. Same `rng` state → same result.
 */
export function augment3d(
  image: Volume,
  mask: Volume | undefined,
  rng: Random,
  config: AugmentConfig = NNUNET_AUGMENT,
  /**
   * 'zscore': the intensity changes act on the image z-scored over the volume and mapped back, as
   * nnU-Net applies them to normalised data, so their ranges mean the same for CT in HU and for MRI.
   * Default 'as-is': on the stored values.
   */
  intensityUnits: 'as-is' | 'zscore' = 'as-is',
): Augmented {
  if (mask && mask.data.length !== image.data.length) throw new RangeError('augment3d: mask and image differ in size');
  const draw = (p: number) => rng.next() < p;
  const flip: [boolean, boolean, boolean] = [draw(config.flip), draw(config.flip), draw(config.flip)];
  const rotation: Vec3 = draw(config.rotation.p)
    ? (config.rotation.maxDegrees.map((d) => (rng.uniform(-d, d) * Math.PI) / 180) as Vec3)
    : [0, 0, 0];
  const scale = draw(config.scaling.p) ? rng.uniform(...config.scaling.range) : 1;
  const applied: AugmentApplied = { spatial: null };
  let data: Float32Array = Float32Array.from(asFloat32(image.data));
  let maskOut = mask;
  if (flip.some(Boolean) || rotation.some((r) => r !== 0) || scale !== 1) {
    const spatial: SpatialParams = { rotation, scale, flip };
    applied.spatial = spatial;
    const map = spatialIndexMap(image.size, image.spacing, spatial);
    const onlyFlips = rotation.every((r) => r === 0) && scale === 1;
    data = warp({ ...image, data }, map, onlyFlips ? 'nearest' : 'linear') as Float32Array;
    if (mask) maskOut = { ...mask, data: warp(mask, map, 'nearest') };
  }
  const [mean, std] = intensityUnits === 'zscore' ? meanStd(data) : [0, 1];
  if (intensityUnits === 'zscore') for (let i = 0; i < data.length; i++) data[i] = (data[i]! - mean) / std;
  if (draw(config.noise.p)) {
    applied.noiseStd = Math.sqrt(rng.uniform(...config.noise.variance));
    addGaussianNoise(data, applied.noiseStd, rng);
  }
  if (draw(config.blur.p)) {
    applied.blurSigma = rng.uniform(...config.blur.sigma);
    gaussianBlur(data, image.size, [applied.blurSigma, applied.blurSigma, applied.blurSigma]);
  }
  if (draw(config.brightness.p)) {
    applied.brightness = rng.uniform(...config.brightness.range);
    multiplyBrightness(data, applied.brightness);
  }
  if (draw(config.contrast.p)) {
    applied.contrast = rng.uniform(...config.contrast.range);
    scaleContrast(data, applied.contrast);
  }
  if (draw(config.lowResolution.p)) {
    applied.lowResolutionZoom = rng.uniform(...config.lowResolution.zoom);
    const small = image.size.map((n) => Math.max(1, Math.round(n * applied.lowResolutionZoom!))) as Vec3;
    const down = resampleToSize({ ...image, data }, small, { interpolation: 'nearest' }).volume;
    data = resampleToSize(down, image.size).volume.data as Float32Array;
  }
  if (draw(config.gamma.p)) {
    applied.gamma = rng.uniform(...config.gamma.range);
    applyGamma(data, applied.gamma);
  }
  if (intensityUnits === 'zscore') for (let i = 0; i < data.length; i++) data[i] = data[i]! * std + mean;
  const out: Augmented = { image: { ...image, direction: new Float64Array(image.direction), data }, applied };
  if (maskOut) out.mask = maskOut;
  return out;
}

function meanStd(x: Float32Array): [number, number] {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  const mean = sum / Math.max(1, x.length);
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i]! - mean) ** 2;
  const std = Math.sqrt(ss / Math.max(1, x.length));
  return [mean, std > 0 ? std : 1];
}
