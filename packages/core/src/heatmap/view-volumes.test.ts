import { describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { embedVolume, type ViewInput } from '../pipeline/embed-volume.js';
import type { PluginCard } from '../plugin/card.js';
import { addViewQueries } from '../plugin/multi-view.js';
import { initPluginWeights } from '../plugin/plugin-graph.js';
import { testPluginCard } from '../testing/plugin-card.js';
import { sessionsBuilt } from '../testing/sessions-built.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import { InputError } from '../util/errors.js';
import { Random } from '../util/random.js';
import type { Volume } from '../volume/types.js';
import { caseHeatmaps, heatmapEmbedOptions, pluginEmbedder } from './case-heatmap.js';
import { pluginPass } from './plugin-math.js';

// A plugin whose two views read different images (T1 and T2 of one case, co-registered): the
// heatmap must feed each view its own volume, as training and predict do, or its probability (and
// map) are those of another input.
const backbone = tinyCnnBackbone({ dim: 8, patch: 4, seed: 7 });
const base = initPluginWeights({ dim: 8, labels: ['finding'], kind: 'multilabel', loss: 'bce' }, 3);
const weights = addViewQueries(base, 2, 4);
const r = new Random(11);
// Random head, queries and fusion: the two views are weighed differently, so swapping their images shows.
for (const t of weights.values()) {
  const data = t.data as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = r.normal() * 0.5;
}
const card: PluginCard = testPluginCard({
  task: 'two-sequences',
  labels: ['finding'],
  views: ['t1', 't2'],
  windows: [[-160, 240]],
  inputSize: [16, 16],
  dim: 8,
  backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
});
const view = (name: string): ViewInput => ({
  name,
  axis: 'axial',
  size: [16, 16],
  channels: { windows: [[-160, 240]] },
  mean: [0, 0, 0],
  std: [1, 1, 1],
});
const views = [view('t1'), view('t2')];
const plugin = { card, weights, source: 'two-sequences' };

const grid = {
  size: [12, 10, 6] as [number, number, number],
  spacing: [1, 1.2, 2.5] as [number, number, number],
  origin: [3, -4, 5] as [number, number, number],
  direction: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
};
const image = (lo: number, hi: number): Volume => ({
  ...grid,
  direction: Float64Array.from(grid.direction),
  data: Float32Array.from({ length: 12 * 10 * 6 }, () => r.uniform(lo, hi)),
});
const t1 = image(-150, 230);
// A different contrast: the fusion sees it only when view t2 is given it.
const t2 = image(-150, 20);

/** What predict computes: each view's pass on its own image, pooled and fused by the head. */
async function predicted(a: Volume, b: Volume): Promise<number> {
  const embedder = new BackboneEmbedder(backbone, { threads: 1 });
  const tokens = [];
  for (const [v, volume] of [a, b].entries()) {
    const e = await embedVolume(volume, views[v]!, embedder, heatmapEmbedOptions(backbone));
    tokens.push({ tokens: e.cls.data as Float32Array, slices: e.cls.dims[0]! });
  }
  await embedder.release();
  return pluginPass(card, weights, tokens, plugin.source).probabilities[0]!;
}

describe('caseHeatmaps with one volume per view', () => {
  it("gives predict's probability, on the heatmap volume's grid; one image for both views does not", async () => {
    const expected = await predicted(t1, t2);
    const { heat, summary } = await caseHeatmaps({ volume: t1, volumes: [t1, t2], views, backbone, plugin });
    expect(summary.probability).toBeCloseTo(expected, 6);
    expect([...heat.size]).toEqual(grid.size);
    expect([...heat.origin]).toEqual(grid.origin);
    expect(Math.max(...heat.data)).toBe(1);

    // The old behaviour (every view reads `volume`) and the images swapped give other probabilities.
    const single = await caseHeatmaps({ volume: t1, views, backbone, plugin });
    expect(Math.abs(single.summary.probability - expected)).toBeGreaterThan(1e-4);
    const swapped = await caseHeatmaps({ volume: t1, volumes: [t2, t1], views, backbone, plugin });
    expect(swapped.summary.probability).toBeCloseTo(await predicted(t2, t1), 6);
    expect(Math.abs(swapped.summary.probability - expected)).toBeGreaterThan(1e-4);
  });

  it('refuses a per-view volume off the heatmap grid, naming the view, the field and the file', async () => {
    const off = { ...t2, spacing: [1, 1.2, 3] as [number, number, number] };
    const run = caseHeatmaps({
      volume: t1,
      volumes: [t1, off],
      volumeSources: ['t1.nii', 't2.nii'],
      views,
      backbone,
      plugin,
    });
    await expect(run).rejects.toThrow(InputError);
    await expect(run).rejects.toThrow(/^t2\.nii: view "t2" .*spacing \[1, 1\.2, 3\] differs .*\[1, 1\.2, 2\.5\]/);
    const shifted = { ...t2, origin: [3, -4, 5.01] as [number, number, number] };
    await expect(caseHeatmaps({ volume: t1, volumes: [t1, shifted], views, backbone, plugin })).rejects.toThrow(
      /^two-sequences: view "t2" .*origin/,
    );
  });

  it('runs both views of a plugin without LoRA through one backbone session, reporting progress per view', async () => {
    // Every session writes its profile when released (ANYMC3D_ORT_PROFILE): one file, one session.
    const expected = await predicted(t1, t2);
    const progress: { view: string; done: number; total: number }[] = [];
    const sessions = await sessionsBuilt(async () => {
      const { summary } = await caseHeatmaps({
        volume: t1,
        volumes: [t1, t2],
        views,
        backbone,
        plugin,
        onProgress: (p) => progress.push(p),
      });
      expect(summary.probability).toBeCloseTo(expected, 6);
    });
    expect(sessions).toBe(1);
    for (const name of ['t1', 't2']) {
      const last = progress.filter((p) => p.view === name).at(-1);
      expect(last && last.done === last.total && last.total > 0, name).toBe(true);
    }
  });

  it('maps several cases through one given embedder: one session for all, and it must run the asked arithmetic', async () => {
    const expected = await predicted(t1, t2);
    const sessions = await sessionsBuilt(async () => {
      const embedder = pluginEmbedder(backbone, plugin, 0, { threads: 1 });
      try {
        for (let c = 0; c < 3; c++) {
          const { summary } = await caseHeatmaps({ volume: t1, volumes: [t1, t2], views, backbone, plugin, embedder });
          expect(summary.probability).toBeCloseTo(expected, 6);
        }
        await expect(
          caseHeatmaps({ volume: t1, views, backbone, plugin, embedder, precision: 'int8' }),
        ).rejects.toThrow(/the given embedder runs fp32, the map is asked in int8/);
      } finally {
        await embedder.release();
      }
    });
    expect(sessions).toBe(1);
  });

  it('refuses a count of volumes that is not one per view', async () => {
    await expect(caseHeatmaps({ volume: t1, volumes: [t1], views, backbone, plugin })).rejects.toThrow(
      /1 volumes were given for the plugin's 2 views \(t1, t2\)/,
    );
  });
});
