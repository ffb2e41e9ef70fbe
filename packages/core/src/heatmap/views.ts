import type { BackboneCard } from '../backbone/types.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import type { PluginCard } from '../plugin/card.js';
import { inputViews, pluginInput } from '../plugin/input.js';

/** The backbone input of each plugin view (`inputViews` of `pluginInput`); removed once its callers move. */
export function pluginViews(card: PluginCard, backbone: BackboneCard): ViewInput[] {
  return inputViews(pluginInput(card), backbone);
}
