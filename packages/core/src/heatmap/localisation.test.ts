import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import type { Tensor } from '../graph/index.js';
import { embedVolume, type ViewInput } from '../pipeline/embed-volume.js';
import type { TaskCard } from '../plugin/card.js';
import { HEAD_WEIGHT } from '../plugin/plugin-graph.js';
import { readPlugin } from '../plugin/store.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import type { FeatureCase } from '../train/features.js';
import { trainPlugin } from '../train/train-plugin.js';
import { Random } from '../util/random.js';
import type { Vec3, Volume } from '../volume/types.js';
import { caseHeatmaps } from './case-heatmap.js';

/**
 * Localisation that can fail: volumes with a bright ball at a random place (or none), a plugin
 * trained on their frozen tokens to say whether the ball is there, then heatmaps on held-out
 * volumes. The peak must fall inside the ball; a plugin whose evidence points the other way
 * (head negated) must not manage that, so the check measures the map, not luck.
 */
const SIZE: Vec3 = [24, 24, 12];
const RADIUS = 3;
const backbone = tinyCnnBackbone({ dim: 16, patch: 2, seed: 3 });
const view: ViewInput = {
  name: 'axial',
  axis: 'axial',
  size: [24, 24],
  channels: { replicate: true, range: [0, 1] },
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

function makeCase(r: Random, withBall: boolean): { volume: Volume; centre: Vec3 | null } {
  const [nx, ny, nz] = SIZE;
  const data = new Float32Array(nx * ny * nz);
  for (let i = 0; i < data.length; i++) data[i] = 0.3 + 0.08 * r.normal();
  let centre: Vec3 | null = null;
  if (withBall) {
    centre = [r.uniform(4, nx - 4), r.uniform(4, ny - 4), r.uniform(3, nz - 3)];
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          if (Math.hypot(i - centre[0], j - centre[1], k - centre[2]) <= RADIUS) data[i + nx * (j + ny * k)] = 0.9;
  }
  // Oblique, anisotropic geometry: the map must come back onto these voxels, not an idealised grid.
  const c = Math.cos(0.3);
  const s = Math.sin(0.3);
  return {
    volume: {
      size: SIZE,
      spacing: [0.8, 0.8, 2],
      origin: [10, -20, 5],
      direction: Float64Array.from([c, -s, 0, s, c, 0, 0, 0, 1]),
      data,
    },
    centre,
  };
}

const task: TaskCard = {
  task: 'ball',
  kind: 'multilabel',
  loss: 'bce',
  labels: ['ball'],
  views: ['axial'],
  axis: 'axial',
  windows: [],
  inputSize: [24, 24],
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('heatmap localisation', () => {
  it('puts the peak inside a planted ball in at least 90% of held-out cases; a reversed plugin does not', async () => {
    const r = new Random(2026);
    const embedder = new BackboneEmbedder(backbone, { threads: 1, batchSize: 12 });
    const train: FeatureCase[] = [];
    for (let n = 0; n < 40; n++) {
      const { volume } = makeCase(r, n % 2 === 0);
      const e = await embedVolume(volume, view, embedder);
      train.push({
        id: `t${n}`,
        tokens: e.cls.data as Float32Array,
        slices: e.cls.dims[0]!,
        labels: [n % 2 === 0 ? 1 : 0],
      });
    }
    await embedder.release();
    const outDir = mkdtempSync(join(tmpdir(), 'anymc3d-heat-'));
    dirs.push(outDir);
    await trainPlugin({
      source: { features: train, backbone: { name: backbone.card.name, weightHash: backbone.weightHash } },
      task,
      outDir,
      options: { steps: 300, batchSize: 8, warmup: 10, lrHead: 1e-1, wdHead: 0, seed: 1 },
      threads: 1,
    });
    const { card, weights } = await readPlugin(outDir, { name: backbone.card.name, weightHash: backbone.weightHash });
    const reversed = new Map<string, Tensor>(weights);
    const w = weights.get(HEAD_WEIGHT)!;
    reversed.set(HEAD_WEIGHT, { ...w, data: (w.data as Float32Array).map((x) => -x) });

    const held = Array.from({ length: 20 }, () => makeCase(r, true));
    const hits = { trained: 0, reversed: 0 };
    const positives: number[] = [];
    for (const { volume, centre } of held) {
      for (const which of ['trained', 'reversed'] as const) {
        const { summary } = await caseHeatmaps({
          volume,
          views: [view],
          backbone,
          plugin: { card, weights: which === 'trained' ? weights : reversed, source: outDir },
          threads: 1,
        });
        expect(summary.method).toBe('cam');
        const [i, j, k] = summary.peak.voxel;
        if (Math.hypot(i - centre![0], j - centre![1], k - centre![2]) <= RADIUS) hits[which]++;
        if (which === 'trained') positives.push(summary.probability);
      }
    }
    const negatives: number[] = [];
    for (let n = 0; n < 20; n++) {
      const { summary } = await caseHeatmaps({
        volume: makeCase(r, false).volume,
        views: [view],
        backbone,
        plugin: { card, weights, source: outDir },
        threads: 1,
      });
      negatives.push(summary.probability);
    }
    // The plugin detects the ball on held-out cases (else the map would have nothing to show).
    let ordered = 0;
    for (const p of positives) for (const q of negatives) ordered += p > q ? 1 : p === q ? 0.5 : 0;
    const auroc = ordered / (positives.length * negatives.length);
    process.stdout.write(
      `ball: AUROC ${auroc.toFixed(3)}, peak in ball ${hits.trained}/20, reversed plugin ${hits.reversed}/20\n`,
    );
    expect(auroc).toBeGreaterThan(0.9);
    expect(hits.trained / held.length).toBeGreaterThanOrEqual(0.9);
    expect(hits.reversed / held.length).toBeLessThan(0.5);
  }, 60_000);
});
