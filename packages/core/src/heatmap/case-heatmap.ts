import { BackboneEmbedder, type EmbedderOptions } from '../backbone/embedder.js';
import type { Backbone } from '../backbone/types.js';
import type { Precision, Tensor } from '../graph/index.js';
import { embedVolume, type VolumeEmbedding } from '../pipeline/embed-volume.js';
import type { ViewInput } from '../pipeline/index.js';
import type { PluginCard } from '../plugin/card.js';
import { HEAD_WEIGHT } from '../plugin/plugin-graph.js';
import { viewLoraWeights } from '../plugin/view-lora.js';
import { InputError } from '../util/errors.js';
import { indexToWorld } from '../volume/geometry.js';
import type { NiftiWriteOptions } from '../volume/nifti-write.js';
import { asProcessed, type Processed, type WeightedMap } from '../volume/record.js';
import type { Vec3, Volume } from '../volume/types.js';
import { SLICE_AXIS_INDEX } from '../volume/views.js';
import { sweepHeat } from './heat-sweep.js';
import { pluginPass, pluginTensor } from './plugin-math.js';
import { type SliceHeat, topSlicesOf } from './slice-heat.js';
import { classActivationMaps, patchGridRecord, type SliceMaps, weightSlices } from './slice-maps.js';
import { viewVolumes } from './view-volumes.js';

/** What the heatmap's values mean; written into every summary. */
export const HEATMAP_POLARITY =
  '0 = no attention (or no positive evidence), 1 = the most in this volume; negative CAM evidence is clipped to 0';

/**
 * The header fields of every heatmap NIfTI: viewers open it on its 0–1 scale without a manual
 * window (cal_min/cal_max), and the file says what it holds (descrip) away from its JSON.
 */
export const HEATMAP_NIFTI: NiftiWriteOptions = {
  displayRange: [0, 1],
  description: 'anymc3d heatmap: 0 none, 1 the peak of this volume',
  // 16-bit codes with scl_slope 1/65535, at most 7.6e-6 off: a dense map of a 512×512×300 CT is
  // 144 MiB this way against 261 MiB as float32, whose mantissas hardly compress (write-volume bench).
  quantize: { range: [0, 1] },
};

export type HeatmapMethod = 'attention' | 'cam';

export interface HeatmapPlugin {
  card: PluginCard;
  weights: ReadonlyMap<string, Tensor>;
  /** The plugin folder, named in errors. */
  source: string;
}

export interface CaseHeatmapArgs {
  /**
   * The volume as the views expect it (`prepareCaseVolume` of the plugin's input: a Processed volume
   * with the record of its reorientation and resampling, or a plain volume used as it is); the
   * heatmap is returned on the grid of the volume as read, and every view reads it unless `volumes`
   * says otherwise.
   */
  volume: Volume | Processed;
  /**
   * One volume per view (card order, each prepared as `volume`) for a plugin whose views read
   * different images (e.g. T1 and T2 sequences), as training and `predict` feed them: the map and
   * probability are wrong when every view reads one image. Each must have `volume`'s geometry.
   */
  volumes?: readonly (Volume | Processed)[];
  /** Where each of `volumes` was read from, named when its geometry is refused. */
  volumeSources?: readonly string[];
  /** How the volume becomes backbone input, one per plugin view in the card's order (`inputViews` of `pluginInput`). */
  views: readonly ViewInput[];
  backbone: Backbone;
  plugin: HeatmapPlugin;
  /** The label whose evidence a CAM shows (attention maps are the same for every label). Default: the first. */
  label?: string;
  threads?: number;
  batchSize?: number;
  /**
   * The frozen backbone's arithmetic for a plugin without LoRA (default fp32): the same as the
   * tokens its probabilities came from (`predict --precision`), so map and probability agree.
   */
  precision?: Precision;
  /** Slices run through the backbone so far, per view (constant slices are run once and not counted again). */
  onProgress?: (p: { view: string; done: number; total: number }) => void;
  /**
   * The backbone pass per view, already run on `volume` with `views` (card order), so that a caller
   * that needs it anyway does not run it twice: the heatmap server shares one frozen pass among every
   * frozen plugin of a case, and reuses one adapted pass for each label of a LoRA plugin. It must be the
   * backbone as this plugin sees it (`pluginEmbeddings` gives it; for a plugin without LoRA that is the
   * frozen backbone) with what `heatmapEmbedOptions` asks for. Absent: the pass is run here.
   */
  embeddings?: readonly VolumeEmbedding[];
  /**
   * For a plugin without LoRA: the frozen embedder to run the pass with (`pluginEmbedder`), kept by
   * a caller that maps many cases so its session is built once, not per case. Its precision must be
   * `precision`'s; the caller releases it. With it, `onProgress` hears of each view when it is done.
   */
  embedder?: BackboneEmbedder;
}

export interface HeatmapSummary {
  label: string;
  method: HeatmapMethod;
  probability: number;
  threshold: number;
  probabilities: Record<string, number>;
  range: [0, 1];
  polarity: string;
  /** Index axis (0 = i, 1 = j, 2 = k) the top slices run along: that of the most-weighted view. */
  sliceAxis: 0 | 1 | 2;
  topSlices: { index: number; meanHeat: number }[];
  peak: { voxel: Vec3; worldLPS: Vec3; worldRAS: Vec3; value: 1 };
  views: { name: string; axis: string; weight: number; topSlices: { slice: number; weight: number }[] }[];
  geometry: { size: Vec3; spacing: Vec3; origin: Vec3; direction: number[] };
  backbone: { name: string; weightHash: string };
  /**
   * Set when a montage was written: its file, the slices shown along `sliceAxis` (the main view's
   * row), the grey window, and each view's row with the slices it shows.
   */
  montage?: {
    file: string;
    slices: number[];
    window: [number, number];
    views: { name: string; axis: string; slices: number[] }[];
  };
}

export interface CaseHeatmap {
  /** float32 in [0, 1] on the input's grid (same size, spacing, origin, direction). */
  heat: Volume;
  summary: HeatmapSummary;
  /** Mean heat per slice along i, j and k (what the summary and the montage rank slices by). */
  sliceHeat: SliceHeat;
}

/** A CAM is exact only when the pooled embedding is the mean of the patch tokens; check slice 0. */
function checkMeanPooled(e: VolumeEmbedding, backbone: Backbone): void {
  const [S, P, d] = e.patchTokens!.dims as [number, number, number];
  if (S === 0) return;
  const tokens = e.patchTokens!.data as Float32Array;
  const cls = e.cls.data as Float32Array;
  // A backbone's own integer graph rounds its pooled embedding to a code (TFLite's average pool):
  // up to half a step from the mean, which the map (the logit of the unrounded mean) leaves out.
  const rounding = (e.clsStep ?? 0) / 2;
  for (let c = 0; c < d; c++) {
    let mean = 0;
    for (let p = 0; p < P; p++) mean += tokens[p * d + c]! / P;
    if (Math.abs(mean - cls[c]!) > 1e-3 * (1 + Math.abs(cls[c]!)) + rounding) {
      throw new InputError(
        backbone.card.name,
        'this backbone gives no attention and its embedding is not the mean of its feature map, so no exact class activation map exists',
      );
    }
  }
}

/**
 * What a heatmap needs from each slice: a ViT's attention alone (its patch tokens, [S, P, d], are
 * hundreds of MB on a CT and unused), a CNN's feature map for the CAM.
 */
export function heatmapEmbedOptions(backbone: Backbone): { attention: true } | { patchTokens: true } {
  return backbone.card.family === 'vit' ? { attention: true } : { patchTokens: true };
}

function checkViews(args: Pick<CaseHeatmapArgs, 'views' | 'plugin'>): void {
  const { card } = args.plugin;
  if (args.views.length !== card.views.length) {
    throw new InputError(
      args.plugin.source,
      `the plugin has ${card.views.length} views, ${args.views.length} were given`,
    );
  }
}

/** A given pass must fit the volume and carry what the map is made from; a mismatch is the caller's bug. */
function checkEmbeddings(args: CaseHeatmapArgs, embeddings: readonly VolumeEmbedding[]): readonly VolumeEmbedding[] {
  if (embeddings.length !== args.views.length)
    throw new Error(`caseHeatmaps: ${embeddings.length} embeddings for ${args.views.length} views`);
  const vit = args.backbone.card.family === 'vit';
  embeddings.forEach((e, v) => {
    const view = args.views[v]!;
    const slices = view.slices ?? asProcessed(args.volume).volume.size[SLICE_AXIS_INDEX[view.axis]];
    if (e.cls.dims[0] !== slices)
      throw new Error(`caseHeatmaps: view ${view.name} has ${e.cls.dims[0]} embedded slices, the volume ${slices}`);
    if (vit ? !e.attention : !e.patchTokens)
      throw new Error(`caseHeatmaps: view ${view.name} was embedded without ${vit ? 'attention' : 'patch tokens'}`);
  });
  return embeddings;
}

/**
 * The backbone as the plugin sees it for view `view` (card order): its LoRA baked in, or the frozen
 * backbone when it has none. A caller that embeds many cases keeps it (its ONNX session is built on
 * the first slice) and hands each case's `embedVolume` to `caseHeatmaps` as `embeddings`.
 */
export function pluginEmbedder(
  backbone: Backbone,
  plugin: HeatmapPlugin,
  view: number,
  options: Omit<EmbedderOptions, 'lora' | 'source'> = {},
): BackboneEmbedder {
  const lora = plugin.card.lora
    ? { ...plugin.card.lora, weights: viewLoraWeights(plugin.card.views.length, plugin.weights, view) }
    : undefined;
  return new BackboneEmbedder(backbone, { ...options, ...(lora ? { lora } : {}), source: plugin.source });
}

/**
 * The plugin's backbone pass over every view, as its heatmap needs it: with the plugin's LoRA baked
 * into the backbone (the attention of the tuned network, not the pretrained one), or the frozen
 * backbone for a plugin without LoRA. Run it once to make several maps (one per label) of one case.
 */
export async function pluginEmbeddings(
  args: Omit<CaseHeatmapArgs, 'label' | 'embeddings'>,
): Promise<VolumeEmbedding[]> {
  const { plugin, backbone } = args;
  checkViews(args);
  if (args.embedder && plugin.card.lora)
    throw new Error(
      `caseHeatmaps: ${plugin.source} has LoRA, so each view runs its own adapted backbone, not a given embedder`,
    );
  if (args.embedder && args.embedder.precision !== (args.precision ?? 'fp32'))
    throw new Error(
      `caseHeatmaps: the given embedder runs ${args.embedder.precision}, the map is asked in ${args.precision ?? 'fp32'}`,
    );
  const volumes = viewVolumes(args.volume, args.views, args.volumes, plugin.source, args.volumeSources);
  let counted: (count: number) => void = () => undefined;
  const options = {
    ...(args.threads ? { threads: args.threads } : {}),
    ...(args.precision ? { precision: args.precision } : {}),
    ...(args.batchSize ? { batchSize: args.batchSize } : {}),
    onSlices: (count: number) => counted(count),
  };
  // Without LoRA every view sees the same frozen backbone: one embedder serves them all (a session
  // per input size, built once), where one per view rebuilt it for each — 0.37 s per build for the
  // shipped MobileNet at int8, three views.
  const owned = plugin.card.lora || args.embedder ? undefined : pluginEmbedder(backbone, plugin, 0, options);
  const frozen = args.embedder ?? owned;
  const embeddings: VolumeEmbedding[] = [];
  try {
    for (let v = 0; v < args.views.length; v++) {
      const view = args.views[v]!;
      const volume = volumes[v]!;
      const total = view.slices ?? volume.volume.size[SLICE_AXIS_INDEX[view.axis]];
      let done = 0;
      counted = (count) => {
        done = Math.min(total, done + count);
        args.onProgress?.({ view: view.name, done, total });
      };
      const embedder = frozen ?? pluginEmbedder(backbone, plugin, v, options);
      try {
        embeddings.push(await embedVolume(volume, view, embedder, heatmapEmbedOptions(backbone)));
        args.onProgress?.({ view: view.name, done: total, total });
      } finally {
        if (!frozen) await embedder.release();
      }
    }
  } finally {
    await owned?.release();
  }
  return embeddings;
}

/**
 * Heatmap of one case for one plugin label (METHOD.md §4). Per view and slice: the last layer's
 * CLS→patch attention of the LoRA-adapted backbone (ViTs), or the class activation map of the
 * label's head row on the last feature map (CNNs); weighted by the slice's pooling weight a_s,
 * mapped from the patch grid through the recorded preprocessing onto the input voxels, summed over
 * views with the fusion weights, clipped at 0 and divided by its maximum.
 */
export async function caseHeatmaps(args: CaseHeatmapArgs): Promise<CaseHeatmap> {
  const { plugin, backbone, volume } = args;
  const { card } = plugin;
  checkViews(args);
  // Refused before any backbone pass; a given pass was run on these volumes by the caller.
  viewVolumes(volume, args.views, args.volumes, plugin.source, args.volumeSources);
  const label = args.label ?? card.labels[0]!;
  const labelIndex = card.labels.indexOf(label);
  if (labelIndex < 0)
    throw new InputError(plugin.source, `no label "${label}"; the plugin has ${card.labels.join(', ')}`);

  const embeddings = args.embeddings ? checkEmbeddings(args, args.embeddings) : await pluginEmbeddings(args);
  const pass = pluginPass(
    card,
    plugin.weights,
    embeddings.map((e) => ({ tokens: e.cls.data as Float32Array, slices: e.cls.dims[0]! })),
    plugin.source,
  );
  const method: HeatmapMethod = embeddings[0]!.attention ? 'attention' : 'cam';
  // The heatmap lives on the grid of the volume as read: every preprocessing step is undone by the record.
  const grid = asProcessed(volume).record.source;
  const maps: WeightedMap[] = [];
  embeddings.forEach((e, v) => {
    const a = pass.sliceWeights[v]!;
    const S = e.cls.dims[0]!;
    let cells: Float32Array;
    if (e.attention) {
      const maps: SliceMaps = { values: e.attention.data as Float32Array, slices: S, grid: e.grid };
      cells = weightSlices(maps, a);
    } else {
      if (!e.patchTokens) throw new Error(`${backbone.card.name}: a ViT backbone gave no attention output`);
      checkMeanPooled(e, backbone);
      const d = e.cls.dims[1]!;
      const W = pluginTensor(plugin.weights, HEAD_WEIGHT, plugin.source).subarray(labelIndex * d, (labelIndex + 1) * d);
      cells = classActivationMaps(e.patchTokens!.data as Float32Array, S, e.grid, d, W, a).values;
    }
    maps.push({ values: cells, record: patchGridRecord(e.record, e.grid), weight: pass.viewWeights[v]! });
  });
  // Every view's map brought back onto the source grid and weighted by the fusion, in one sweep
  // that also clips it, finds its peak and sums its slices.
  const { heat, peak, sliceHeat } = await sweepHeat(maps, args.threads ? { threads: args.threads } : {});

  const [nx, ny] = grid.size;
  const voxel: Vec3 = [peak % nx, Math.floor(peak / nx) % ny, Math.floor(peak / (nx * ny))];
  const lps = indexToWorld(grid, voxel);
  const main = pass.viewWeights.indexOf(Math.max(...pass.viewWeights));
  const sliceAxis = SLICE_AXIS_INDEX[args.views[main]!.axis];
  const heatVolume: Volume = {
    size: [...grid.size],
    spacing: [...grid.spacing],
    origin: [...grid.origin],
    direction: Float64Array.from(grid.direction),
    data: heat,
  };
  const summary: HeatmapSummary = {
    label,
    method,
    probability: pass.probabilities[labelIndex]!,
    threshold: card.thresholds[labelIndex] ?? 0.5,
    probabilities: Object.fromEntries(card.labels.map((l, i) => [l, pass.probabilities[i]!])),
    range: [0, 1],
    polarity: HEATMAP_POLARITY,
    sliceAxis,
    topSlices: topSlicesOf(sliceHeat[sliceAxis], 8),
    peak: { voxel, worldLPS: lps, worldRAS: [-lps[0], -lps[1], lps[2]], value: 1 },
    views: args.views.map((view, v) => ({
      name: view.name,
      axis: view.axis,
      weight: pass.viewWeights[v]!,
      topSlices: Array.from(pass.sliceWeights[v]!, (weight, slice) => ({ slice, weight }))
        .sort((x, y) => y.weight - x.weight)
        .slice(0, 5),
    })),
    geometry: {
      size: [...grid.size],
      spacing: [...grid.spacing],
      origin: [...grid.origin],
      direction: Array.from(grid.direction),
    },
    backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
  };
  return { heat: heatVolume, summary, sliceHeat };
}
