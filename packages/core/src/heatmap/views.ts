import type { BackboneCard } from '../backbone/types.js';
import type { ViewInput } from '../pipeline/embed-volume.js';
import type { PluginCard } from '../plugin/card.js';
import type { SliceAxis } from '../volume/views.js';

const AXES: readonly string[] = ['axial', 'coronal', 'sagittal'];

/**
 * The backbone input of each plugin view as the card records it: the card's axis (or the view's
 * own name when that names an axis), input size, windows (none: the value replicated ×3) and the
 * backbone's normalisation.
 */
export function pluginViews(card: PluginCard, backbone: BackboneCard): ViewInput[] {
  return card.views.map((name) => ({
    name,
    axis: (AXES.includes(name) ? name : card.axis) as SliceAxis,
    size: [card.inputSize[0], card.inputSize[1]],
    channels: card.windows.length
      ? {
          windows: card.windows.map((w, i) => ({
            name: `window${i}`,
            lo: w.center - w.width / 2,
            hi: w.center + w.width / 2,
          })),
        }
      : { replicate: true },
    mean: backbone.mean,
    std: backbone.std,
  }));
}
