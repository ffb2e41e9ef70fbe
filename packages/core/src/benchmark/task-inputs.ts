import type { Backbone } from '../backbone/types.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import type { TaskCard as PluginTask } from '../plugin/card.js';
import type { TaskCard } from '../task/card.js';
import { InputError } from '../util/errors.js';

/**
 * How the benchmark feeds a task card's volumes to a backbone: one `ViewInput` (the feature-cache
 * key's preprocessing) and the plugin's task description. `size` overrides the card's in-plane
 * input size (a small size keeps a CPU run affordable; it is part of every cache and result key).
 */
export function benchmarkView(card: TaskCard, backbone: Backbone, size?: [number, number]): ViewInput {
  if (card.views.length !== 1) {
    throw new InputError(card.id, `the benchmark runs single-view tasks; this card has ${card.views.length} views`);
  }
  if (!card.windows) {
    throw new InputError(card.id, 'the benchmark runs CT tasks with intensity windows; this card normalises MRI');
  }
  const view = card.views[0]!;
  return {
    name: view.name,
    axis: view.axis,
    size: size ?? [card.inputSize.height, card.inputSize.width],
    channels: { windows: card.windows.map(([lo, hi], i) => ({ name: `w${i}`, lo, hi })) },
    mean: backbone.card.mean,
    std: backbone.card.std,
  };
}

/** The plugin's task description for a card (binary is one-label multi-label, as the plugin spells it). */
export function pluginTask(card: TaskCard, view: ViewInput): PluginTask {
  return {
    task: card.id,
    kind: card.kind === 'multi-class' ? 'multiclass' : 'multilabel',
    labels: [...card.labels],
    views: [view.name],
    axis: view.axis,
    windows: (card.windows ?? []).map(([lo, hi]) => ({ center: (lo + hi) / 2, width: hi - lo })),
    inputSize: view.size,
  };
}
