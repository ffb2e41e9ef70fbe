/**
 * Colour maps for heatmap overlays. Polarity is fixed across the product: 0 = no attention,
 * 1 = the most attention in the volume (MONAI's inverted CAM default confused users; ours never
 * flips).
 */
export type ColormapName = 'inferno' | 'hot' | 'jet';

type Stop = [number, number, number, number];

// Key colours sampled from matplotlib's maps at even positions; linear interpolation between.
const STOPS: Record<ColormapName, Stop[]> = {
  inferno: [
    [0, 0, 0, 4],
    [0.125, 31, 12, 72],
    [0.25, 85, 15, 109],
    [0.375, 136, 34, 106],
    [0.5, 186, 54, 85],
    [0.625, 227, 89, 51],
    [0.75, 249, 140, 10],
    [0.875, 249, 201, 50],
    [1, 252, 255, 164],
  ],
  hot: [
    [0, 11, 0, 0],
    [0.365, 255, 0, 0],
    [0.746, 255, 255, 0],
    [1, 255, 255, 255],
  ],
  jet: [
    [0, 0, 0, 128],
    [0.11, 0, 0, 255],
    [0.125, 0, 0, 255],
    [0.34, 0, 219, 255],
    [0.35, 0, 229, 246],
    [0.64, 255, 255, 0],
    [0.65, 255, 245, 0],
    [0.89, 255, 0, 0],
    [1, 128, 0, 0],
  ],
};

/** A 256-entry RGB lookup table. */
export function colormapLut(name: ColormapName): Uint8Array {
  const stops = STOPS[name];
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < stops.length - 2 && stops[k + 1]![0] < x) k++;
    const [x0, r0, g0, b0] = stops[k]!;
    const [x1, r1, g1, b1] = stops[k + 1]!;
    const t = x1 > x0 ? Math.min(1, Math.max(0, (x - x0) / (x1 - x0))) : 0;
    lut[i * 3] = Math.round(r0 + (r1 - r0) * t);
    lut[i * 3 + 1] = Math.round(g0 + (g1 - g0) * t);
    lut[i * 3 + 2] = Math.round(b0 + (b1 - b0) * t);
  }
  return lut;
}
