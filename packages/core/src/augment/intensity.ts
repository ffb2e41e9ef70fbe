import type { Random } from '../util/random.js';
import type { Vec3 } from '../volume/types.js';

export function addGaussianNoise(x: Float32Array, std: number, rng: Random): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + std * rng.normal();
}

/** Separable Gaussian blur with per-axis sigma (voxels), kernel truncated at 4σ, edges clamped. */
export function gaussianBlur(x: Float32Array, size: Vec3, sigma: Vec3): void {
  const stride = [1, size[0], size[0] * size[1]];
  for (let a = 0; a < 3; a++) {
    const s = sigma[a]!;
    if (!(s > 0)) continue;
    const radius = Math.max(1, Math.ceil(4 * s));
    const kernel = new Float32Array(2 * radius + 1);
    let total = 0;
    for (let t = -radius; t <= radius; t++) total += kernel[t + radius] = Math.exp((-t * t) / (2 * s * s));
    for (let t = 0; t < kernel.length; t++) kernel[t] = kernel[t]! / total;
    const n = size[a]!;
    const line = new Float32Array(n);
    const st = stride[a]!;
    const others = x.length / n;
    for (let l = 0; l < others; l++) {
      // Start of the l-th line along axis a.
      const lo = l % st;
      const base = lo + Math.floor(l / st) * st * n;
      for (let t = 0; t < n; t++) line[t] = x[base + t * st]!;
      for (let t = 0; t < n; t++) {
        let acc = 0;
        for (let r = -radius; r <= radius; r++) acc += kernel[r + radius]! * line[Math.min(n - 1, Math.max(0, t + r))]!;
        x[base + t * st] = acc;
      }
    }
  }
}

function minMaxMean(x: Float32Array): [number, number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    sum += v;
  }
  return [lo, hi, sum / x.length];
}

export function multiplyBrightness(x: Float32Array, factor: number): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * factor;
}

/** Scales deviations from the mean by `factor`, then clips to the original range (nnU-Net). */
export function scaleContrast(x: Float32Array, factor: number): void {
  const [lo, hi, mean] = minMaxMean(x);
  for (let i = 0; i < x.length; i++) x[i] = Math.min(hi, Math.max(lo, (x[i]! - mean) * factor + mean));
}

/** Gamma on the range mapped to [0, 1], mapped back, so the range is kept. */
export function applyGamma(x: Float32Array, gamma: number): void {
  const [lo, hi] = minMaxMean(x);
  const range = hi - lo || 1;
  for (let i = 0; i < x.length; i++) x[i] = ((x[i]! - lo) / range) ** gamma * range + lo;
}
