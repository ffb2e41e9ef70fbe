import type { Rgb8Image } from './bmp.js';

/**
 * Bilinear resize with antialiasing (a triangle filter widened by the scale factor when
 * shrinking), as PIL's `Image.resize(size, BILINEAR)` and PyTorch's
 * `interpolate(mode='bilinear', antialias=True)` do; results rounded to uint8.
 */
export function resizeBilinear(image: Rgb8Image, width: number, height: number): Rgb8Image {
  const horizontal = weights(image.width, width);
  const vertical = weights(image.height, height);
  // Horizontal pass into floats, then vertical pass.
  const tmp = new Float32Array(width * image.height * 3);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const { start, w } = horizontal[x]!;
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k]! * image.data[3 * (y * image.width + start + k) + c]!;
        tmp[3 * (y * width + x) + c] = s;
      }
    }
  }
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const { start, w } = vertical[y]!;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k]! * tmp[3 * ((start + k) * width + x) + c]!;
        data[3 * (y * width + x) + c] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return { width, height, data };
}

/** For each output pixel: the first input index and normalised triangle-filter weights. */
function weights(inSize: number, outSize: number): { start: number; w: Float64Array }[] {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  return Array.from({ length: outSize }, (_, i) => {
    const center = (i + 0.5) * scale;
    const start = Math.max(0, Math.floor(center - support + 0.5));
    const end = Math.min(inSize, Math.floor(center + support + 0.5));
    const w = new Float64Array(end - start);
    let total = 0;
    for (let j = start; j < end; j++) {
      const v = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
      w[j - start] = v;
      total += v;
    }
    for (let k = 0; k < w.length; k++) w[k] = w[k]! / total;
    return { start, w };
  });
}

/** uint8 RGB (HWC) → float [3, H, W] normalised with a card's mean/std on the [0,1] scale. */
export function normalisePixels(
  image: Rgb8Image,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
): Float32Array {
  const n = image.width * image.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) out[c * n + i] = (image.data[3 * i + c]! / 255 - mean[c]!) / std[c]!;
  }
  return out;
}
