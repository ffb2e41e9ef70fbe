import type { TaskCard as PluginTask } from '../plugin/card.js';
import type { TaskCard } from './card.js';

/**
 * The plugin's view of a task (what `trainPlugin` records in plugin.json) from the task card a user
 * writes: kinds spelled as the plugin spells them (a binary task is one-label multi-label; the loss is the trainer's default), view
 * names in order, the first view's axis, windows as centre/width, and the 2D input size.
 */
export function pluginTaskOf(card: TaskCard, inputSize?: [number, number]): PluginTask {
  return {
    task: card.id,
    kind: card.kind === 'multi-class' ? 'multiclass' : 'multilabel',
    labels: [...card.labels],
    views: card.views.map((v) => v.name),
    axis: card.views[0]?.axis ?? 'axial',
    windows: (card.windows ?? []).map(([lo, hi]) => ({ center: (lo + hi) / 2, width: hi - lo })),
    inputSize: inputSize ?? [card.inputSize.height, card.inputSize.width],
  };
}
