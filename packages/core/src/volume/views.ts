import { identityAffine } from './geometry.js';
import { applyWindow, type Window } from './intensity.js';
import { appendStep, asProcessed, outputGrid, type Processed, type SpatialRecord } from './record.js';
import type { Vec3, Volume } from './types.js';

/** The anatomical plane a view's slices lie in (the slice axis is its normal). */
export type SliceAxis = 'axial' | 'coronal' | 'sagittal';
export const SLICE_AXES: readonly SliceAxis[] = ['axial', 'coronal', 'sagittal'];
/** The index axis (i = 0, j = 1, k = 2) a view's slices are stacked along. */
export const SLICE_AXIS_INDEX = { axial: 2, coronal: 1, sagittal: 0 } as const satisfies Record<SliceAxis, 0 | 1 | 2>;

/** How voxel values become the three input channels. */
export type ChannelSpec =
  /** One channel per window (1 window is replicated), each mapped to [0, 1]. */
  | { windows: readonly Window[] }
  /** The value itself replicated ×3; with `range`, mapped lo..hi → 0..1 and clamped first. */
  | { replicate: true; range?: [number, number] };

export interface SliceOptions {
  axis: SliceAxis;
  /** Output [H, W]; each must be a multiple of `patch` when given. */
  size: [number, number];
  patch?: number;
  channels: ChannelSpec;
  /** Backbone normalisation after channel mapping (default mean 0, std 1). */
  mean?: readonly number[];
  std?: readonly number[];
  /** Slices per batch (default 16). */
  chunk?: number;
}

export interface SliceBatch {
  /** Index of the first slice of this batch. */
  start: number;
  count: number;
  /** [count, 3, H, W], float32. */
  data: Float32Array;
}

export interface SliceBatches extends Iterable<SliceBatch> {
  slices: number;
  height: number;
  width: number;
  /**
   * The record extended by a 'slices' step whose grid is the stack of resized slices, indexed
   * (w, h, s) with w fastest: a [S, H, W] heatmap laid out row-major is a volume on that grid,
   * and `mapToSource(heatmap, record)` puts it back on the source voxels.
   */
  record: SpatialRecord;
}

/**
 * Index map of a slice stack: (w, h, s) on the resized stack → (i, j, k) of the volume.
 * Axial planes are (i, j) at k = s; coronal (i, k) at j = s; sagittal (j, k) at i = s. In the
 * coronal and sagittal views h runs against k, so for an LPS-oriented volume superior is at the
 * top and, in the axial view, anterior at the top and the patient's right on the left.
 */
function sliceIndexMap(axis: SliceAxis, size: Vec3, H: number, W: number) {
  const m = identityAffine();
  m.fill(0);
  m[15] = 1;
  // Which volume axis w, h and s run along, whether h is reversed, and the plane's native size.
  const [wAxis, hAxis, sAxis, flipH] =
    axis === 'axial' ? [0, 1, 2, false] : axis === 'coronal' ? [0, 2, 1, true] : [1, 2, 0, true];
  const W0 = size[wAxis]!;
  const H0 = size[hAxis]!;
  const sw = W0 / W;
  const sh = H0 / H;
  m[wAxis * 4 + 0] = sw;
  m[wAxis * 4 + 3] = 0.5 * sw - 0.5;
  m[hAxis * 4 + 1] = flipH ? -sh : sh;
  m[hAxis * 4 + 3] = flipH ? H0 - 1 - (0.5 * sh - 0.5) : 0.5 * sh - 0.5;
  m[sAxis * 4 + 2] = 1;
  return { map: m, wAxis, hAxis, sAxis, slices: size[sAxis]! };
}

/**
 * Slices a volume along an axis into batches of [n, 3, H, W] float32 network inputs, computed
 * chunk by chunk from the stored voxels (a 1000-slice volume never needs every slice in memory).
 */
export function sliceBatches(input: Volume | Processed, options: SliceOptions): SliceBatches {
  const { volume, record } = asProcessed(input);
  const [H, W] = options.size;
  if (!(H > 0 && W > 0 && Number.isInteger(H) && Number.isInteger(W)))
    throw new RangeError(`slice size must be positive integers, got ${options.size}`);
  if (options.patch && (H % options.patch !== 0 || W % options.patch !== 0))
    throw new RangeError(`slice size ${H}×${W} is not a multiple of the backbone's patch size ${options.patch}`);
  const { map, wAxis, hAxis, sAxis, slices } = sliceIndexMap(options.axis, volume.size, H, W);
  const stackSize: Vec3 = [W, H, slices];
  const grid = outputGrid(volume, map, stackSize);
  const extended = appendStep(record, {
    op: 'slices',
    input: {
      size: [...volume.size] as Vec3,
      spacing: [...volume.spacing] as Vec3,
      origin: [...volume.origin] as Vec3,
      direction: new Float64Array(volume.direction),
    },
    output: grid,
    indexMap: map,
    params: { axis: options.axis, size: [H, W] },
  });
  const chunk = Math.max(1, options.chunk ?? 16);
  const mean = options.mean ?? [0, 0, 0];
  const std = options.std ?? [1, 1, 1];
  const windows = channelWindows(options.channels);
  const stride = [1, volume.size[0], volume.size[0] * volume.size[1]];
  // Per-output-column and per-output-row source positions (bilinear within the plane).
  const table = (n: number, axisIdx: number, col: number) => {
    const lo = new Int32Array(n);
    const hi = new Int32Array(n);
    const f = new Float32Array(n);
    const nIn = volume.size[axisIdx]!;
    for (let o = 0; o < n; o++) {
      const x = Math.min(Math.max(map[axisIdx * 4 + col]! * o + map[axisIdx * 4 + 3]!, 0), nIn - 1);
      const x0 = Math.floor(x);
      lo[o] = x0 * stride[axisIdx]!;
      hi[o] = Math.min(x0 + 1, nIn - 1) * stride[axisIdx]!;
      f[o] = x - x0;
    }
    return { lo, hi, f };
  };
  const tw = table(W, wAxis, 0);
  const th = table(H, hAxis, 1);
  const d = volume.data;
  const plane = H * W;
  // The windows and normalisation as locals, each pixel windowed once when the channels share a
  // window: this loop runs per output pixel (6 M times for a CT's 125 axial slices at 224²), and
  // one window closure per channel took about 1.5× as long (333²×125 → 224², ad hoc, warm runs).
  const [w0, w1, w2] = windows;
  const oneWindow = w0 === w1 && w1 === w2;
  const [m0, m1, m2] = mean as Vec3;
  const [s0, s1, s2] = std as Vec3;
  function* batches(): Generator<SliceBatch> {
    for (let start = 0; start < slices; start += chunk) {
      const count = Math.min(chunk, slices - start);
      const data = new Float32Array(count * 3 * plane);
      for (let n = 0; n < count; n++) {
        const base = (start + n) * stride[sAxis]!;
        for (let h = 0; h < H; h++) {
          const r0 = base + th.lo[h]!,
            r1 = base + th.hi[h]!,
            fh = th.f[h]!;
          for (let w = 0; w < W; w++) {
            const c0 = tw.lo[w]!,
              c1 = tw.hi[w]!,
              fw = tw.f[w]!;
            const top = d[r0 + c0]! + (d[r0 + c1]! - d[r0 + c0]!) * fw;
            const bottom = d[r1 + c0]! + (d[r1 + c1]! - d[r1 + c0]!) * fw;
            const x = top + (bottom - top) * fh;
            const at = n * 3 * plane + h * W + w;
            if (oneWindow) {
              const v = windowed(x, w0);
              data[at] = (v - m0) / s0;
              data[at + plane] = (v - m1) / s1;
              data[at + 2 * plane] = (v - m2) / s2;
            } else {
              data[at] = (windowed(x, w0) - m0) / s0;
              data[at + plane] = (windowed(x, w1) - m1) / s1;
              data[at + 2 * plane] = (windowed(x, w2) - m2) / s2;
            }
          }
        }
      }
      yield { start, count, data };
    }
  }
  return { slices, height: H, width: W, record: extended, [Symbol.iterator]: batches };
}

/** A channel's window, or null for the value itself. */
type ChannelWindow = Window | null;

/**
 * The window of each output channel; one array shared by all three when they are the same
 * (one window, or a replicated value), so each pixel is windowed once.
 */
function channelWindows(spec: ChannelSpec): [ChannelWindow, ChannelWindow, ChannelWindow] {
  if ('windows' in spec) {
    const ws = spec.windows;
    if (ws.length !== 1 && ws.length !== 3)
      throw new RangeError(`give 1 or 3 windows for 3 channels, got ${ws.length}`);
    return ws.length === 1 ? [ws[0]!, ws[0]!, ws[0]!] : [ws[0]!, ws[1]!, ws[2]!];
  }
  const w = spec.range ?? null;
  return [w, w, w];
}

function windowed(x: number, w: ChannelWindow): number {
  return w === null ? x : applyWindow(x, w);
}

/** The largest multiple of `patch` not above `target` (at least one patch): a valid view side. */
export function patchMultiple(target: number, patch: number): number {
  return Math.max(patch, Math.floor(target / patch) * patch);
}
