import type { Volume, VoxelArray } from './types.js';

/**
 * An intensity window [lo, hi], mapped linearly to [0, 1] and clamped. The one spelling of a window
 * in task cards, plugin cards, recipes and code (centre/width is lo + width / 2, hi − lo).
 */
export type Window = readonly [lo: number, hi: number];

/** The chest CT set (HU) → three channels: wide [−1000, 1000], soft tissue [−150, 250], lung [−1000, 400]. */
export const CHEST_CT_WINDOWS: readonly Window[] = [
  [-1000, 1000],
  [-150, 250],
  [-1000, 400],
];

export function applyWindow(x: number, [lo, hi]: Window): number {
  const t = (x - lo) / (hi - lo);
  return t < 0 ? 0 : Math.min(t, 1);
}

/** One float32 channel per window, each in [0, 1], on the volume's grid. */
export function windowChannels(v: Volume, windows: readonly Window[] = CHEST_CT_WINDOWS): Float32Array[] {
  windows.forEach(([lo, hi], k) => {
    if (!(hi > lo)) throw new RangeError(`window ${k} [${lo}, ${hi}]: hi must exceed lo`);
  });
  return windows.map((w) => {
    const out = new Float32Array(v.data.length);
    for (let i = 0; i < out.length; i++) out[i] = applyWindow(v.data[i]!, w);
    return out;
  });
}

/** The q-th percentile (0–100) with linear interpolation between order statistics, as numpy's default. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** MRI intensities have no absolute scale: z-score per volume, or clip to percentiles and rescale (a task card's spelling). */
export type MriNormalisation = { method: 'zscore' } | { method: 'percentile'; range: [number, number] };

export interface MriNormalizeOptions {
  /** Percentiles to clip to before standardising (default 0.5 and 99.5). */
  lower?: number;
  upper?: number;
  /** Only voxels where the mask is non-zero define the statistics (e.g. a brain or body mask). */
  mask?: ArrayLike<number>;
}

export interface MriNormalized {
  volume: Volume;
  clip: [number, number];
  mean: number;
  std: number;
}

/** MRI normalisation: clip to percentiles, then z-score (float32 output, same grid). */
export function mriNormalize(v: Volume, options: MriNormalizeOptions = {}): MriNormalized {
  const mask = options.mask;
  let values: Float32Array;
  if (mask) {
    let n = 0;
    for (let i = 0; i < v.data.length; i++) if (mask[i]) n++;
    values = new Float32Array(n);
    n = 0;
    for (let i = 0; i < v.data.length; i++) if (mask[i]) values[n++] = v.data[i]!;
  } else values = Float32Array.from(v.data as ArrayLike<number>);
  if (values.length === 0) throw new RangeError('mriNormalize: the mask selects no voxel');
  values.sort();
  const lo = percentile(values, options.lower ?? 0.5);
  const hi = percentile(values, options.upper ?? 99.5);
  let sum = 0;
  let sumsq = 0;
  for (let i = 0; i < values.length; i++) {
    const x = Math.min(Math.max(values[i]!, lo), hi);
    sum += x;
    sumsq += x * x;
  }
  const mean = sum / values.length;
  const std = Math.sqrt(Math.max(sumsq / values.length - mean * mean, 0)) || 1;
  const out = new Float32Array(v.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (Math.min(Math.max(v.data[i]!, lo), hi) - mean) / std;
  return { volume: { ...v, data: out }, clip: [lo, hi], mean, std };
}

/** Three identical float32 channels (for a grey image fed to an RGB backbone). */
export function replicateChannels(data: VoxelArray | Float32Array): [Float32Array, Float32Array, Float32Array] {
  const c = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  return [c, c, c];
}

/** Backbone normalisation in place: (x − mean[c]) / std[c] on channel-first planes. */
export function normalizeChannels(channels: Float32Array[], mean: readonly number[], std: readonly number[]): void {
  channels.forEach((ch, c) => {
    const m = mean[c] ?? 0;
    const s = std[c] ?? 1;
    for (let i = 0; i < ch.length; i++) ch[i] = (ch[i]! - m) / s;
  });
}

/** ImageNet statistics, the usual mean/std of DINOv2 and torchvision backbones. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
