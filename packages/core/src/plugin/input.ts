import type { AugmentConfig } from '../augment/augment.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import { InputError } from '../util/errors.js';
import { type MriNormalisation, mriNormalize } from '../volume/intensity.js';
import type { Volume } from '../volume/types.js';
import { type ChannelSpec, SLICE_AXES, type SliceAxis } from '../volume/views.js';
import type { TaskCard as PluginTask } from './card.js';

/**
 * A plugin's input, as it was trained: how a volume becomes the slices its backbone saw. Recorded
 * in plugin.json as `input`, so predictions, heatmaps and the server all feed the plugin the same
 * values; `pluginInput` reads it (or derives it for a card written before the record existed).
 */
export interface PluginInput {
  /** In the plugin's view order; each view's own slice plane (a multi-sequence view such as "t2" has one too). */
  views: { name: string; axis: SliceAxis }[];
  /** The 2D backbone input [H, W]. */
  size: [number, number];
  /** How (normalised) voxel values become the three channels. */
  channels: ChannelSpec;
  /** MRI: the per-volume normalisation applied before `channels` (as the task card spells it); null for none. */
  normalisation: MriNormalisation | null;
  /**
   * 'ct-hu': the voxels must be CT in Hounsfield units (air near −1000): raw scanner values need a
   * rescale and anything else is refused, naming the file. Absent or 'as-read': the values as read.
   */
  intensity?: 'as-read' | 'ct-hu';
  /** The orientation (e.g. "LPS") the volume is permuted/flipped to before slicing; absent or null: as stored. */
  orientation?: string | null;
  /** The voxel spacing (mm, x y z) the volume is resampled to (trilinear) before slicing; absent or null: as stored. */
  spacing?: [number, number, number] | null;
  /** Slices per view: absent or null, every slice; a number S, the view resampled along its slice axis to S (the paper's fixed input). */
  slices?: number | null;
  /**
   * The 3D augmentation LoRA training applied to each case use (recorded for provenance; prediction
   * never augments): nnU-Net's transforms with their probabilities and ranges, intensity changes in
   * z-score units, seeded per (training seed, case, step, slot) so a run and its resume draw the same.
   */
  augmentation?: { method: 'nnunet-3d'; seed: number; config: AugmentConfig } | null;
}

/** The backbone input of each plugin view: the recorded views, size and channels with the backbone card's mean/std. */
export function inputViews(input: PluginInput, backbone: Pick<ViewInput, 'mean' | 'std'>): ViewInput[] {
  return input.views.map((v) => ({
    name: v.name,
    axis: v.axis,
    size: [input.size[0], input.size[1]],
    channels: input.channels,
    mean: backbone.mean,
    std: backbone.std,
    ...(input.slices ? { slices: input.slices } : {}),
  }));
}

/** The volume as the views expect it: per-volume MRI normalisation (percentile clip + z-score) when recorded. */
export function prepareVolume(input: Pick<PluginInput, 'normalisation'>, volume: Volume): Volume {
  const n = input.normalisation;
  if (!n) return volume;
  // z-score alone is the percentile method over the whole range: nothing is clipped.
  const [lower, upper] = n.method === 'percentile' ? n.range : [0, 100];
  return mriNormalize(volume, { lower, upper }).volume;
}

const AXES: readonly string[] = SLICE_AXES;

/**
 * The plugin's input: the recorded `input`, checked against the card's own views and size, or for a
 * card written before it was recorded, what the old fields meant to every consumer that read them
 * (a view named after an axis slices along it, any other along the card's `axis`; windows as
 * channels; no windows: the value itself replicated, without normalisation).
 */
export function pluginInput(
  card: Pick<PluginTask, 'views' | 'axis' | 'windows' | 'inputSize' | 'input'>,
  source = 'plugin.json',
): PluginInput {
  if (card.input !== undefined) return checkInput(card.input, card, source);
  return {
    views: card.views.map((name) => ({ name, axis: (AXES.includes(name) ? name : card.axis) as SliceAxis })),
    size: [card.inputSize[0], card.inputSize[1]],
    channels: card.windows.length
      ? { windows: card.windows.map(([lo, hi]) => [lo, hi] as const) }
      : { replicate: true },
    normalisation: null,
  };
}

const isRange = (r: unknown): r is [number, number] =>
  Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number' && Number.isFinite(x)) && r[0] < r[1];

/** A recorded input read from JSON: every problem in one error, so a hand-edited card is fixed in one pass. */
function checkInput(raw: unknown, card: Pick<PluginTask, 'views' | 'inputSize'>, source: string): PluginInput {
  const problems: string[] = [];
  const input = raw as Partial<Record<keyof PluginInput, unknown>> | null;
  const views = input?.views;
  if (!Array.isArray(views) || views.length === 0) problems.push('input.views must list {name, axis}');
  else {
    views.forEach((v: { name?: unknown; axis?: unknown } | null, i) => {
      if (typeof v?.name !== 'string') problems.push(`input.views[${i}].name must be a string`);
      if (!AXES.includes(v?.axis as string)) problems.push(`input.views[${i}].axis must be one of ${AXES.join(', ')}`);
    });
    const names = views.map((v: { name?: unknown } | null) => v?.name);
    if (names.join('\0') !== card.views.join('\0'))
      problems.push(`input.views (${names.join(', ')}) must be the card's views (${card.views.join(', ')})`);
  }
  const size = input?.size;
  if (!Array.isArray(size) || size.length !== 2 || size[0] !== card.inputSize[0] || size[1] !== card.inputSize[1])
    problems.push(`input.size must be the card's inputSize ${JSON.stringify(card.inputSize)}`);
  const ch = input?.channels as { windows?: unknown; replicate?: unknown; range?: unknown } | undefined;
  // Records written before windows had one spelling hold {name, lo, hi}: read as the [lo, hi] they meant.
  const windows = Array.isArray(ch?.windows)
    ? ch.windows.map((w: unknown) =>
        w && typeof w === 'object' && !Array.isArray(w) ? [(w as { lo?: unknown }).lo, (w as { hi?: unknown }).hi] : w,
      )
    : undefined;
  const windowsOk = !!windows && (windows.length === 1 || windows.length === 3) && windows.every(isRange);
  const replicateOk = ch?.replicate === true && (ch.range === undefined || isRange(ch.range));
  if (!(windowsOk || replicateOk))
    problems.push('input.channels must be {windows: 1 or 3 of [lo, hi]} or {replicate: true, range?: [lo, hi]}');
  const n = input?.normalisation as { method?: unknown; range?: unknown } | null | undefined;
  const normalisationOk =
    n === null ||
    n?.method === 'zscore' ||
    (n?.method === 'percentile' && isRange(n.range) && n.range.every((x) => x >= 0 && x <= 100));
  if (!normalisationOk)
    problems.push('input.normalisation must be null, {method: "zscore"} or {method: "percentile", range: [lo, hi]}');
  const r = raw as Partial<PluginInput>;
  if (r.intensity !== undefined && r.intensity !== 'as-read' && r.intensity !== 'ct-hu')
    problems.push('input.intensity must be "as-read" or "ct-hu"');
  if (r.orientation != null && !/^[LRPASI]{3}$/i.test(r.orientation))
    problems.push('input.orientation must be a three-letter code such as "LPS", or null');
  if (
    r.spacing != null &&
    !(Array.isArray(r.spacing) && r.spacing.length === 3 && r.spacing.every((x) => typeof x === 'number' && x > 0))
  )
    problems.push('input.spacing must be three positive numbers (mm), or null');
  if (r.slices != null && !(Number.isInteger(r.slices) && r.slices > 0))
    problems.push('input.slices must be a positive whole number, or null');
  const a = r.augmentation as { method?: unknown; seed?: unknown; config?: unknown } | null | undefined;
  if (
    a != null &&
    !(a.method === 'nnunet-3d' && Number.isInteger(a.seed) && typeof a.config === 'object' && a.config !== null)
  )
    problems.push('input.augmentation must be null or {method: "nnunet-3d", seed, config}');
  if (problems.length > 0) throw new InputError(source, `invalid plugin input: ${problems.join('; ')}`);
  return (windowsOk ? { ...(raw as PluginInput), channels: { windows } } : raw) as PluginInput;
}
