import type { PluginCard } from '../plugin/card.js';

/**
 * An untrained plugin's card for tests: what differs between them (task, labels, backbone, dim,
 * windows, input size) given, the rest as a freshly made frozen multilabel plugin has it — one
 * axial view, BCE, thresholds 0.5, no LoRA, no training — unless `fields` says otherwise.
 */
export function testPluginCard(
  fields: Pick<PluginCard, 'task' | 'labels' | 'dim' | 'backbone' | 'windows' | 'inputSize'> & Partial<PluginCard>,
): PluginCard {
  return {
    format: 'anymc3d-plugin',
    version: 1,
    kind: 'multilabel',
    loss: 'bce',
    views: ['axial'],
    axis: 'axial',
    thresholds: fields.labels.map(() => 0.5),
    lora: null,
    parameters: { lora: 0, head: 0, total: 0 },
    training: { cases: 0, steps: 0, options: {} },
    metrics: {},
    ...fields,
  };
}
