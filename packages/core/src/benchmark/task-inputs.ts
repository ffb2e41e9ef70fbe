import type { Backbone } from '../backbone/types.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import { inputViews } from '../plugin/input.js';
import type { TaskCard } from '../task/card.js';
import { taskInput } from '../task/plugin-task.js';
import { InputError } from '../util/errors.js';

/**
 * How the benchmark feeds a task card's volumes to a backbone: the one `ViewInput` of the card's
 * input (`taskInput`, as the plugin records it; also the feature-cache key's preprocessing). `size`
 * overrides the card's in-plane input size (a small size keeps a CPU run affordable; it is part of
 * every cache and result key).
 */
export function benchmarkView(card: TaskCard, backbone: Backbone, size?: [number, number]): ViewInput {
  if (card.views.length !== 1) {
    throw new InputError(card.id, `the benchmark runs single-view tasks; this card has ${card.views.length} views`);
  }
  if (!card.windows) {
    throw new InputError(card.id, 'the benchmark runs CT tasks with intensity windows; this card normalises MRI');
  }
  return inputViews(taskInput(card, size), backbone.card)[0]!;
}
