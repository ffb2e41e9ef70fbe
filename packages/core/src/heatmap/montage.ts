import { PNG } from 'pngjs';
import { type ColormapName, colormapLut } from './colormap.js';

/** A stack of 2D slices, [S, H, W] row-major, values in [0, 1]. */
export interface SliceStack {
  data: Float32Array;
  slices: number;
  height: number;
  width: number;
}

export interface MontageOptions {
  /** How many slices to show, chosen by total heat (the most-attended slices). */
  count?: number;
  columns?: number;
  colormap?: ColormapName;
  /** Overlay strength at full heat. */
  opacity?: number;
  /** Heat below this is not drawn, so the anatomy stays readable. */
  floor?: number;
  /** Integer upscaling of each tile (small inputs such as 28² are unreadable at 1×). */
  scale?: number;
}

/** Indices of the `count` slices with the most heat, in slice order. */
export function topSlices(heat: SliceStack, count: number): number[] {
  const area = heat.height * heat.width;
  const mass = Array.from({ length: heat.slices }, (_, s) => {
    let m = 0;
    for (let i = 0; i < area; i++) m += heat.data[s * area + i]!;
    return { s, m };
  });
  return mass
    .sort((a, b) => b.m - a.m || a.s - b.s)
    .slice(0, Math.min(count, heat.slices))
    .map((x) => x.s)
    .sort((a, b) => a - b);
}

/**
 * Renders the top slices as tiles: the grey image with the heatmap blended over it, plus a
 * colour bar (low → high, left → right) along the bottom. Returns PNG bytes and the slices shown.
 */
export function renderMontage(
  image: SliceStack,
  heat: SliceStack,
  options: MontageOptions = {},
): { png: Uint8Array; slices: number[] } {
  if (image.slices !== heat.slices || image.height !== heat.height || image.width !== heat.width) {
    throw new Error(
      `montage: image [${image.slices},${image.height},${image.width}] and heatmap [${heat.slices},${heat.height},${heat.width}] differ`,
    );
  }
  const shown = topSlices(heat, options.count ?? 8);
  const columns = Math.min(options.columns ?? 4, shown.length);
  const rows = Math.ceil(shown.length / columns);
  const scale = options.scale ?? Math.max(1, Math.floor(192 / Math.max(image.height, image.width)));
  const tileH = image.height * scale;
  const tileW = image.width * scale;
  const gap = 2;
  const barH = Math.max(6, Math.round(tileH / 16));
  const width = columns * tileW + (columns + 1) * gap;
  const height = rows * tileH + (rows + 1) * gap + barH + gap;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const lut = colormapLut(options.colormap ?? 'inferno');
  const opacity = options.opacity ?? 0.6;
  const floor = options.floor ?? 0.2;
  const area = image.height * image.width;
  shown.forEach((s, k) => {
    const ox = gap + (k % columns) * (tileW + gap);
    const oy = gap + Math.floor(k / columns) * (tileH + gap);
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) {
        const src = s * area + Math.floor(y / scale) * image.width + Math.floor(x / scale);
        const g = Math.min(1, Math.max(0, image.data[src]!)) * 255;
        const h = Math.min(1, Math.max(0, heat.data[src]!));
        const a = h >= floor ? opacity * h : 0;
        const c = Math.round(h * 255) * 3;
        const o = ((oy + y) * width + ox + x) * 4;
        png.data[o] = Math.round((1 - a) * g + a * lut[c]!);
        png.data[o + 1] = Math.round((1 - a) * g + a * lut[c + 1]!);
        png.data[o + 2] = Math.round((1 - a) * g + a * lut[c + 2]!);
      }
    }
  });
  const barY = height - barH - gap;
  for (let x = gap; x < width - gap; x++) {
    const c = Math.round(((x - gap) / (width - 2 * gap - 1)) * 255) * 3;
    for (let y = barY; y < barY + barH; y++) {
      const o = (y * width + x) * 4;
      png.data[o] = lut[c]!;
      png.data[o + 1] = lut[c + 1]!;
      png.data[o + 2] = lut[c + 2]!;
    }
  }
  return { png: PNG.sync.write(png), slices: shown };
}
