import { indexToWorldAffine, type Volume } from '@anymc3d/core/volume';
import { PNG } from 'pngjs';

export type SliceAxis = 'axial' | 'coronal' | 'sagittal';
export const SLICE_AXES: readonly SliceAxis[] = ['axial', 'coronal', 'sagittal'];
export type ColormapName = 'hot' | 'jet' | 'grey';
export const COLORMAPS: readonly ColormapName[] = ['hot', 'jet', 'grey'];

export interface SliceRequest {
  axis: SliceAxis;
  index: number;
  /** Grey window [low, high]; default the image's 1st–99th percentile. */
  window?: [number, number];
  overlay?: { volume: Volume; colormap: ColormapName; opacity: number; range: [number, number] };
}

/**
 * The voxel axis (0 i, 1 j, 2 k) whose direction is closest to the world axis normal to the
 * plane: axial ⟂ S, coronal ⟂ A, sagittal ⟂ R (RAS), so an oblique scan still gets its
 * nearest plane.
 */
export function voxelAxisFor(
  volume: Pick<Volume, 'size' | 'direction' | 'spacing' | 'origin'>,
  axis: SliceAxis,
): 0 | 1 | 2 {
  const world = axis === 'sagittal' ? 0 : axis === 'coronal' ? 1 : 2;
  // LPS or RAS alike: only the size of each direction cosine counts.
  const a = indexToWorldAffine(volume);
  // Assign voxel axes to world axes greedily by the largest |direction cosine|, as a permutation.
  const score = (v: number, w: number) =>
    Math.abs(a[4 * w + v] ?? 0) / Math.hypot(a[v] ?? 0, a[4 + v] ?? 0, a[8 + v] ?? 0);
  const pairs: [number, number, number][] = [];
  for (let v = 0; v < 3; v++) for (let w = 0; w < 3; w++) pairs.push([score(v, w) || 0, v, w]);
  pairs.sort((x, y) => y[0] - x[0]);
  const usedV = new Set<number>();
  const usedW = new Set<number>();
  for (const [, v, w] of pairs) {
    if (usedV.has(v) || usedW.has(w)) continue;
    if (w === world) return v as 0 | 1 | 2;
    usedV.add(v);
    usedW.add(w);
  }
  return world as 0 | 1 | 2;
}

export function sliceCount(volume: Volume, axis: SliceAxis): number {
  return volume.size[voxelAxisFor(volume, axis)];
}

/**
 * Renders one slice as an RGBA PNG: the image in grey under the window, the overlay (if any)
 * blended with its colour map, alpha growing with the overlay value so zero heat stays clear.
 * Columns run along the lower in-plane voxel axis, rows along the higher one, top row = highest
 * index (so the superior/anterior end of a standard scan is up).
 */
export function renderSlicePng(image: Volume, request: SliceRequest): Buffer {
  const normal = voxelAxisFor(image, request.axis);
  const [u, v] = ([0, 1, 2] as const).filter((d) => d !== normal) as [0 | 1 | 2, 0 | 1 | 2];
  const [nx, ny] = [image.size[0], image.size[1]];
  const width = image.size[u];
  const height = image.size[v];
  const [low, high] = request.window ?? defaultWindow(image);
  const scale = high > low ? 255 / (high - low) : 0;
  const overlay = request.overlay;
  const [olow, ohigh] = overlay?.range ?? [0, 1];
  const oscale = ohigh > olow ? 1 / (ohigh - olow) : 0;
  const png = new PNG({ width, height, colorType: 6 });
  const stride = [1, nx, nx * ny];
  const base = request.index * (stride[normal] ?? 0);
  for (let row = 0; row < height; row++) {
    const vIndex = height - 1 - row;
    for (let col = 0; col < width; col++) {
      const voxel = base + col * (stride[u] ?? 0) + vIndex * (stride[v] ?? 0);
      const grey = clamp((Number(image.data[voxel] ?? 0) - low) * scale, 0, 255);
      let [r, g, b] = [grey, grey, grey];
      if (overlay) {
        const t = clamp((Number(overlay.volume.data[voxel] ?? 0) - olow) * oscale, 0, 1);
        const alpha = t * overlay.opacity;
        const [cr, cg, cb] = colour(overlay.colormap, t);
        r = r * (1 - alpha) + cr * alpha;
        g = g * (1 - alpha) + cg * alpha;
        b = b * (1 - alpha) + cb * alpha;
      }
      const o = 4 * (row * width + col);
      png.data[o] = Math.round(r);
      png.data[o + 1] = Math.round(g);
      png.data[o + 2] = Math.round(b);
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png, { deflateLevel: 3 });
}

const windowCache = new WeakMap<Volume, [number, number]>();

/** The 1st and 99th percentiles (sampled). */
export function defaultWindow(image: Volume): [number, number] {
  const cached = windowCache.get(image);
  if (cached) return cached;
  const step = Math.max(1, Math.floor(image.data.length / 100_000));
  const sample: number[] = [];
  for (let i = 0; i < image.data.length; i += step) sample.push(Number(image.data[i] ?? 0));
  sample.sort((a, b) => a - b);
  const at = (q: number) => sample[Math.min(sample.length - 1, Math.floor(q * (sample.length - 1)))] ?? 0;
  const window: [number, number] = [at(0.01), at(0.99)];
  windowCache.set(image, window);
  return window;
}

function colour(map: ColormapName, t: number): [number, number, number] {
  if (map === 'grey') return [255 * t, 255 * t, 255 * t];
  if (map === 'hot') return [255 * clamp(3 * t, 0, 1), 255 * clamp(3 * t - 1, 0, 1), 255 * clamp(3 * t - 2, 0, 1)];
  // jet: blue → cyan → yellow → red
  return [
    255 * clamp(1.5 - Math.abs(4 * t - 3), 0, 1),
    255 * clamp(1.5 - Math.abs(4 * t - 2), 0, 1),
    255 * clamp(1.5 - Math.abs(4 * t - 1), 0, 1),
  ];
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
