import type { ViewInput } from '../pipeline/index.js';
import { sliceBatches, type Volume } from '../volume/index.js';

/**
 * A mask as the seg decoder's target: sliced exactly as the view slices its image (same axis, size
 * and index map, so a mask voxel lands where its image voxel does) but sampled nearest, binarised
 * (the listed label values, else > 0), then reduced to the token grid as each patch's area fraction, [slices, gh, gw] row-major.
 */
export function maskTokenGrid(
  mask: Volume,
  view: Pick<ViewInput, 'axis' | 'size'>,
  patch: number,
  /** The mask values that count as target (absent: every value above 0). */
  labels?: readonly number[],
): { data: Float32Array; slices: number } {
  const counts = labels ? (x: number) => labels.includes(x) : (x: number) => x > 0;
  const [H, W] = view.size;
  // The image's own slicing step (lazy: no pixels are made); its index map is reused for the mask.
  const stack = sliceBatches(mask, { axis: view.axis, size: [H, W], patch, channels: { replicate: true } });
  const m = stack.record.steps.at(-1)!.indexMap;
  const [gh, gw] = [H / patch, W / patch];
  const S = stack.slices;
  const [n0, n1, n2] = mask.size;
  const src = (axis: number, n: number, w: number, h: number, s: number) =>
    Math.min(
      Math.max(Math.round(m[axis * 4]! * w + m[axis * 4 + 1]! * h + m[axis * 4 + 2]! * s + m[axis * 4 + 3]!), 0),
      n - 1,
    );
  const out = new Float32Array(S * gh * gw);
  const area = 1 / (patch * patch);
  for (let s = 0; s < S; s++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const i = src(0, n0, w, h, s);
        const j = src(1, n1, w, h, s);
        const k = src(2, n2, w, h, s);
        if (counts(Number(mask.data[i + n0 * (j + n1 * k)]))) {
          const cell = (s * gh + Math.floor(h / patch)) * gw + Math.floor(w / patch);
          out[cell] = out[cell]! + area;
        }
      }
  return { data: out, slices: S };
}
