import { type BackboneEmbedder, type Embedding, stepOf } from '../backbone/embedder.js';
import type { Tensor } from '../graph/tensor.js';
import { asProcessed, type Processed, type SpatialRecord } from '../volume/record.js';
import { resampleToSize } from '../volume/spatial.js';
import type { Vec3, Volume } from '../volume/types.js';
import {
  type ChannelSpec,
  SLICE_AXIS_INDEX,
  type SliceAxis,
  type SliceBatches,
  sliceBatches,
} from '../volume/views.js';

/** How a volume becomes backbone input for one view. Part of the feature-cache key. */
export interface ViewInput {
  name: string;
  axis: SliceAxis;
  size: [number, number];
  channels: ChannelSpec;
  mean: readonly number[];
  std: readonly number[];
  /** The paper's fixed slice count: the volume resampled along this view's slice axis to S first. Absent: every slice. */
  slices?: number;
}

export interface VolumeEmbedding {
  /** [S, d] per-slice CLS (CNNs: pooled embedding). */
  cls: Tensor;
  /** [S, P, d] when requested. */
  patchTokens?: Tensor;
  /** [S, P] for ViTs when requested. */
  attention?: Tensor;
  grid: [number, number];
  /** Maps a [S, H, W] map on the resized slices back to the volume's voxels. */
  record: SpatialRecord;
  /** Slices that were constant (e.g. empty background) and reused one computed embedding. */
  reused: number;
  /** The step the CLS values are rounded to, for a backbone's own integer graph (`Embedding.clsStep`). */
  clsStep?: number;
}

/**
 * A view's fixed slice count applied: the volume resampled along the view's slice axis to S
 * (linear for images, nearest for masks), recorded so maps land back on the input grid. Without
 * one (or when the volume already has S slices), the volume as it is.
 */
export function atSliceCount(
  input: Volume | Processed,
  view: Pick<ViewInput, 'axis' | 'slices'>,
  interpolation: 'linear' | 'nearest' = 'linear',
): Processed {
  const volume = asProcessed(input);
  const axis = SLICE_AXIS_INDEX[view.axis];
  if (!view.slices || volume.volume.size[axis] === view.slices) return volume;
  const size = [...volume.volume.size] as Vec3;
  size[axis] = view.slices;
  return resampleToSize(volume, size, { interpolation });
}

/** One view's slices of a (prepared) volume as backbone input, `chunk` slices per batch (`atSliceCount` first). */
export function viewSlices(input: Volume | Processed, view: ViewInput, chunk: number): SliceBatches {
  const volume = atSliceCount(input, view);
  return sliceBatches(volume, {
    axis: view.axis,
    size: view.size,
    channels: view.channels,
    mean: view.mean,
    std: view.std,
    chunk,
  });
}

/** Backbone-ready pixels [slices, 3, H, W] of one view of a volume. */
export function volumePixels(volume: Volume | Processed, view: ViewInput): { pixels: Float32Array; slices: number } {
  const batches = viewSlices(volume, view, Number.MAX_SAFE_INTEGER);
  const [H, W] = view.size;
  const pixels = new Float32Array(batches.slices * 3 * H * W);
  for (const b of batches) pixels.set(b.data, b.start * 3 * H * W);
  return { pixels, slices: batches.slices };
}

/**
 * Runs every slice of one view through the frozen backbone, chunk by chunk. A constant slice (air,
 * an empty mask plane) always gives the same output, so its embedding is computed once per
 * constant value and copied — exact, and a large saving on sparse volumes.
 */
export async function embedVolume(
  volume: Volume | Processed,
  view: ViewInput,
  embedder: Pick<BackboneEmbedder, 'embed' | 'batchSize'>,
  /**
   * `attention` alone keeps a ViT's [S, P] attention without the much larger patch tokens; without
   * `patchTokens` the backbone is not asked for them at all (a ViT then skips most of its last block).
   */
  options: { patchTokens?: boolean; attention?: boolean; chunk?: number } = {},
): Promise<VolumeEmbedding> {
  const batches = viewSlices(volume, view, options.chunk ?? embedder.batchSize);
  const outputs = { patchTokens: options.patchTokens === true };
  const [H, W] = view.size;
  const per = 3 * H * W;
  const S = batches.slices;
  let cls: Float32Array | undefined;
  let patch: Float32Array | undefined;
  let attention: Float32Array | undefined;
  let grid: [number, number] = [0, 0];
  let clsStep: number | undefined;
  let dims = { d: 0, P: 0 };
  const constantCache = new Map<string, Embedding>();
  let reused = 0;

  const place = (e: Embedding, from: number, to: number, count: number) => {
    if (!cls) {
      dims = { d: e.cls.dims[1]!, P: e.grid[0] * e.grid[1] };
      grid = e.grid;
      clsStep = e.clsStep;
      cls = new Float32Array(S * dims.d);
      if (options.patchTokens) patch = new Float32Array(S * dims.P * dims.d);
      if ((options.attention ?? options.patchTokens) && e.attention) attention = new Float32Array(S * dims.P);
    }
    const { d, P } = dims;
    cls.set((e.cls.data as Float32Array).subarray(from * d, (from + count) * d), to * d);
    if (patch && e.patchTokens)
      patch.set((e.patchTokens.data as Float32Array).subarray(from * P * d, (from + count) * P * d), to * P * d);
    if (attention && e.attention)
      attention.set((e.attention.data as Float32Array).subarray(from * P, (from + count) * P), to * P);
  };

  for (const batch of batches) {
    const varying: number[] = [];
    const constants: { slice: number; key: string }[] = [];
    for (let k = 0; k < batch.count; k++) {
      const x = batch.data.subarray(k * per, (k + 1) * per);
      const key = constantKey(x, H * W);
      if (key === null) varying.push(k);
      else constants.push({ slice: k, key });
    }
    if (varying.length) {
      // Usually every slice varies: the batch then goes as it is, not copied into fresh memory
      // (5 MB per batch of eight 224² slices, each page a fault on first touch).
      const data = varying.length === batch.count ? batch.data : new Float32Array(varying.length * per);
      if (data !== batch.data)
        varying.forEach((k, j) => {
          data.set(batch.data.subarray(k * per, (k + 1) * per), j * per);
        });
      const e = await embedder.embed({ dtype: 'float32', dims: [varying.length, 3, H, W], data }, outputs);
      varying.forEach((k, j) => {
        place(e, j, batch.start + k, 1);
      });
    }
    for (const { slice, key } of constants) {
      let e = constantCache.get(key);
      if (!e) {
        const data = batch.data.slice(slice * per, (slice + 1) * per);
        e = await embedder.embed({ dtype: 'float32', dims: [1, 3, H, W], data }, outputs);
        constantCache.set(key, e);
      } else reused++;
      place(e, 0, batch.start + slice, 1);
    }
  }
  if (!cls) throw new Error('the volume has no slices along this axis');
  const { d, P } = dims;
  return {
    cls: { dtype: 'float32', dims: [S, d], data: cls },
    ...(patch ? { patchTokens: { dtype: 'float32', dims: [S, P, d], data: patch } as Tensor } : {}),
    ...(attention ? { attention: { dtype: 'float32', dims: [S, P], data: attention } as Tensor } : {}),
    grid,
    record: batches.record,
    reused,
    ...stepOf({ clsStep }),
  };
}

/** The three channel values if every pixel of the slice has them, else null. */
function constantKey(x: Float32Array, area: number): string | null {
  const c0 = x[0]!;
  const c1 = x[area]!;
  const c2 = x[2 * area]!;
  for (let i = 0; i < area; i++) {
    if (x[i] !== c0 || x[area + i] !== c1 || x[2 * area + i] !== c2) return null;
  }
  return `${c0},${c1},${c2}`;
}
