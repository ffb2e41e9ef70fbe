import type { TaskCard as PluginTask } from '../plugin/card.js';
import type { PluginInput } from '../plugin/input.js';
import type { ChannelSpec } from '../volume/views.js';
import type { TaskCard } from './card.js';

/** z-scored MRI intensities within ±3 SD map to [0, 1] (beyond is clamped). */
const MRI_RANGE: [number, number] = [-3, 3];

/**
 * How a task card's volumes become backbone input at `size` (default the card's): each view on its
 * own axis; CT windows as channels (one window replicated over the three); MRI normalised per volume
 * as the card says, then z-scores within ±3 replicated. The feature cache keys on what this gives,
 * so a change here recomputes every cached token.
 */
export function taskInput(card: TaskCard, size?: [number, number]): PluginInput {
  const windows = card.windows ?? [];
  const channels: ChannelSpec =
    windows.length === 0
      ? { replicate: true, range: MRI_RANGE }
      : windows.length === 1
        ? { replicate: true, range: windows[0]! }
        : { windows: windows.map(([lo, hi]) => [lo, hi] as const) };
  return {
    views: card.views.map((v) => ({ name: v.name, axis: v.axis })),
    size: size ?? [card.inputSize.height, card.inputSize.width],
    channels,
    normalisation: card.normalisation ?? null,
    ...(card.intensity === 'ct-hu' ? { intensity: 'ct-hu' as const } : {}),
    ...(card.orientation ? { orientation: card.orientation.toUpperCase() } : {}),
    ...(card.spacing ? { spacing: [...card.spacing] as [number, number, number] } : {}),
    ...(card.slices === 'fixed' ? { slices: card.inputSize.slices } : {}),
  };
}

/**
 * The plugin's view of a task (what `trainPlugin` records in plugin.json) from the task card a user
 * writes: kinds spelled as the plugin spells them (a binary task is one-label multi-label; the loss is the trainer's default), view
 * names in order, the first view's axis, windows as [lo, hi], the 2D input size, and the whole
 * input preprocessing (`taskInput`), which is what consumers read.
 */
export function pluginTaskOf(card: TaskCard, inputSize?: [number, number]): PluginTask {
  const input = taskInput(card, inputSize);
  return {
    task: card.id,
    kind: card.kind === 'multiclass' ? 'multiclass' : 'multilabel',
    labels: [...card.labels],
    views: input.views.map((v) => v.name),
    axis: input.views[0]?.axis ?? 'axial',
    windows: (card.windows ?? []).map(([lo, hi]) => [lo, hi]),
    inputSize: [input.size[0], input.size[1]],
    input,
  };
}
