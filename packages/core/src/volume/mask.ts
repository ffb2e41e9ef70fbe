import { InputError } from '../util/errors.js';
import { geometryMismatch } from './geometry.js';
import { type ReadOptions, readVolume } from './read.js';
import type { Grid, Volume } from './types.js';

/**
 * Checks that a label map sits on exactly the image's grid (size, and spacing, origin and
 * direction within `tolerance`). A mismatch is an error naming what differs, never a silent resample.
 */
export function checkMaskGeometry(maskSource: string, mask: Grid, image: Grid, tolerance = 1e-4): void {
  const m = geometryMismatch(mask, image, tolerance);
  if (m)
    throw new InputError(
      maskSource,
      `mask ${m.field} ${fmt(m.a)} differs from the image's ${fmt(m.b)} (tolerance ${tolerance}); resample the mask onto the image grid first`,
    );
}

const fmt = (v: number[]) => `[${v.map((x) => +x.toFixed(6)).join(', ')}]`;

/** Reads a label map and checks it shares `image`'s geometry. */
export async function readMask(path: string, image: Grid, options: ReadOptions = {}): Promise<Volume> {
  const { volume } = await readVolume(path, options);
  checkMaskGeometry(path, volume, image);
  return volume;
}
