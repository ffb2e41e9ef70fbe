import { describe, expect, it } from 'vitest';
import { taskCard } from './catalogue.js';
import { pluginTaskOf } from './plugin-task.js';

describe('pluginTaskOf', () => {
  it("maps a catalogue card to the plugin's task: kinds, views, windows as centre/width, input size", async () => {
    const adrenal = pluginTaskOf(await taskCard('medmnist-adrenal'), [64, 64]);
    expect(adrenal).toEqual({
      task: 'medmnist-adrenal',
      kind: 'multilabel',
      labels: ['hyperplasia'],
      views: ['axial'],
      axis: 'axial',
      windows: [[0, 255]],
      inputSize: [64, 64],
      input: {
        views: [{ name: 'axial', axis: 'axial' }],
        size: [64, 64],
        channels: { replicate: true, range: [0, 255] },
        normalisation: null,
      },
    });
    const cards = await import('./catalogue.js').then((m) => m.listTaskCards());
    const multiClass = cards.find((c) => c.kind === 'multiclass');
    if (multiClass) expect(pluginTaskOf(multiClass).kind).toBe('multiclass');
  });
});
