import type { Backbone } from '@anymc3d/core/backbone';
import type { ViewInput } from '@anymc3d/core/pipeline';
import type { TaskCard } from '@anymc3d/core/task';
import { type ChannelSpec, mriNormalize, type Volume } from '@anymc3d/core/volume';

/** z-scored MRI intensities within ±3 SD map to [0, 1] (beyond is clamped). */
const MRI_RANGE: [number, number] = [-3, 3];

/**
 * How each of the card's views becomes backbone input: its slice axis, the 2D input size, the
 * card's windows as channels (one window is replicated over the three channels; MRI cards are
 * z-scored per volume first, see `prepareVolume`) and the backbone's normalisation.
 */
export function viewInputs(card: TaskCard, backbone: Backbone, size: [number, number]): ViewInput[] {
  const windows = card.windows ?? [];
  const channels: ChannelSpec =
    windows.length === 0
      ? { replicate: true, range: MRI_RANGE }
      : windows.length === 1
        ? { replicate: true, range: windows[0]! }
        : { windows: windows.map(([lo, hi], k) => ({ name: `w${k}`, lo, hi })) };
  return card.views.map((v) => ({
    name: v.name,
    axis: v.axis,
    size,
    channels,
    mean: backbone.card.mean,
    std: backbone.card.std,
  }));
}

/** The volume as the views expect it: MRI cards are normalised per volume (percentile clip + z-score). */
export function prepareVolume(card: TaskCard, volume: Volume): Volume {
  if (!card.normalisation) return volume;
  const [lower, upper] = card.normalisation.method === 'percentile' ? card.normalisation.range : [0, 100];
  return mriNormalize(volume, { lower, upper }).volume;
}
