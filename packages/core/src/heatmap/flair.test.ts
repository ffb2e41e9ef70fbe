import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BackboneEmbedder } from '../backbone/embedder.js';
import { embedVolume, type ViewInput } from '../pipeline/embed-volume.js';
import type { TaskCard } from '../plugin/card.js';
import { readPlugin } from '../plugin/store.js';
import { tinyCnnBackbone } from '../testing/tiny-cnn.js';
import type { FeatureCase } from '../train/features.js';
import { trainPlugin } from '../train/train-plugin.js';
import { Random } from '../util/random.js';
import { indexToWorld } from '../volume/geometry.js';
import { readVolume } from '../volume/read.js';
import type { Vec3, Volume } from '../volume/types.js';
import { caseHeatmaps } from './case-heatmap.js';
import { writeHeatmapOutputs } from './outputs.js';

/**
 * The pointing game on real MRI: crops of one FLAIR scan with and without lesion (label 1 of
 * lesion.nii.gz, the hyperintense one), a plugin trained on some crops, heatmaps on the others.
 * One subject, so this checks the pipeline end to end on real data; it is no accuracy claim.
 * The hit rate is printed; the test asks only that it beats pointing at random voxels.
 */
const SHARED = fileURLToPath(new URL('../../../../../shared/data/mri/', import.meta.url));
const CROP: Vec3 = [16, 16, 8];
const LESION = 1;
const backbone = tinyCnnBackbone({ dim: 32, patch: 2, seed: 11 });
const view: ViewInput = {
  name: 'axial',
  axis: 'axial',
  size: [16, 16],
  channels: { replicate: true, range: [0, 255] },
  mean: [0, 0, 0],
  std: [1, 1, 1],
};
const task: TaskCard = {
  task: 'flair-lesion',
  kind: 'multilabel',
  loss: 'bce',
  labels: ['lesion'],
  views: ['axial'],
  axis: 'axial',
  windows: [],
  inputSize: [16, 16],
};

/** A sub-volume at voxel `at`, keeping the world position of every voxel; `mirror` flips it along i. */
function crop(v: Volume, at: Vec3, mirror = false): Volume {
  const [nx, ny] = v.size;
  const [cx, cy, cz] = CROP;
  const data = new Float32Array(cx * cy * cz);
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++)
        data[(mirror ? cx - 1 - i : i) + cx * (j + cy * k)] = Number(
          v.data[at[0] + i + nx * (at[1] + j + ny * (at[2] + k))],
        );
  return {
    size: [...CROP],
    spacing: [...v.spacing],
    origin: indexToWorld(v, at),
    direction: Float64Array.from(v.direction),
    data,
  };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('pointing game on FLAIR with its lesion mask', () => {
  it.runIf(existsSync(join(SHARED, 'FLAIR.nii.gz')))(
    'hits the lesion more often than random voxels would',
    async () => {
      const image = (await readVolume(join(SHARED, 'FLAIR.nii.gz'))).volume;
      const mask = (await readVolume(join(SHARED, 'lesion.nii.gz'))).volume;
      const r = new Random(8);
      const pos: { image: Volume; mask: Volume }[] = [];
      const neg: { image: Volume; mask: Volume }[] = [];
      const count = (v: Volume, test: (x: number) => boolean) => {
        let n = 0;
        for (let i = 0; i < v.data.length; i++) if (test(Number(v.data[i]))) n++;
        return n;
      };
      const lesionVoxels = (m: Volume) => count(m, (x) => x === LESION);
      const brainFraction = (v: Volume) => count(v, (x) => x > 40) / v.data.length;
      // Negatives are the mirror images of the positives from the other hemisphere: the same anatomy
      // without the lesion, so the plugin cannot tell them apart by where the crop was taken.
      for (let tries = 0; tries < 20000 && pos.length < 32; tries++) {
        const at: Vec3 = [0, 1, 2].map((a) => Math.floor(r.uniform(0, image.size[a]! - CROP[a]!))) as Vec3;
        const m = crop(mask, at);
        if (lesionVoxels(m) < 20) continue;
        const mirrored: Vec3 = [image.size[0] - CROP[0] - at[0], at[1], at[2]];
        const mm = crop(mask, mirrored, true);
        if (lesionVoxels(mm) > 0 || brainFraction(crop(image, mirrored)) < 0.2) continue;
        pos.push({ image: crop(image, at), mask: m });
        neg.push({ image: crop(image, mirrored, true), mask: mm });
      }
      expect(pos.length).toBe(32);
      expect(neg.length).toBe(32);

      const embedder = new BackboneEmbedder(backbone, { threads: 1, batchSize: 12 });
      const train: FeatureCase[] = [];
      const trainCases = [...pos.slice(0, 20).map((c) => ({ c, y: 1 })), ...neg.slice(0, 20).map((c) => ({ c, y: 0 }))];
      for (const [n, { c, y }] of trainCases.entries()) {
        const e = await embedVolume(c.image, view, embedder);
        train.push({ id: `c${n}`, tokens: e.cls.data as Float32Array, slices: e.cls.dims[0]!, labels: [y] });
      }
      await embedder.release();
      const outDir = mkdtempSync(join(tmpdir(), 'anymc3d-flair-'));
      dirs.push(outDir);
      await trainPlugin({
        source: { features: train, backbone: { name: backbone.card.name, weightHash: backbone.weightHash } },
        task,
        outDir,
        options: { steps: 300, batchSize: 8, warmup: 10, lrHead: 1e-1, wdHead: 0, seed: 1 },
        threads: 1,
      });
      const { card, weights } = await readPlugin(outDir, { name: backbone.card.name, weightHash: backbone.weightHash });
      let hits = 0;
      let near = 0;
      let chance = 0;
      const held = pos.slice(20);
      for (const [n, c] of held.entries()) {
        const result = await caseHeatmaps({
          volume: c.image,
          views: [view],
          backbone,
          plugin: { card, weights, source: outDir },
          threads: 1,
        });
        const { summary } = result;
        // ANYMC3D_HEATMAP_EXAMPLE=<dir> keeps the first held-out crop's outputs (docs/heatmaps/).
        const example = process.env.ANYMC3D_HEATMAP_EXAMPLE;
        if (example && n === 0) {
          const caption = { caseId: 'BraTS FLAIR held-out crop 0', plugin: `${card.task} plugin` };
          await writeHeatmapOutputs(join(example, 'crop'), result, { image: c.image, view, png: true, caption });
          // The same plugin over the whole scan at its native 1 mm (a CAM is local, so any slice size works).
          const whole = { ...view, size: [image.size[1], image.size[0]] as [number, number] };
          const full = await caseHeatmaps({
            volume: image,
            views: [whole],
            backbone,
            plugin: { card, weights, source: outDir },
            threads: 1,
          });
          await writeHeatmapOutputs(join(example, 'scan'), full, {
            image,
            view: whole,
            png: true,
            caption: { ...caption, caseId: 'BraTS FLAIR whole scan' },
          });
        }
        const [i, j, k] = summary.peak.voxel;
        let nearest = Number.POSITIVE_INFINITY;
        for (let z = 0; z < CROP[2]; z++)
          for (let y = 0; y < CROP[1]; y++)
            for (let x = 0; x < CROP[0]; x++)
              if (Number(c.mask.data[x + CROP[0] * (y + CROP[1] * z)]) === LESION)
                nearest = Math.min(nearest, Math.hypot(x - i, y - j, z - k));
        if (nearest <= 3) near++;
        if (Number(c.mask.data[i + CROP[0] * (j + CROP[1] * k)]) === LESION) hits++;
        chance += lesionVoxels(c.mask) / c.mask.data.length / held.length;
      }
      process.stdout.write(
        `FLAIR pointing game: peak on a lesion voxel in ${hits}/${held.length} held-out lesion crops ` +
          `(random voxels: ${(100 * chance).toFixed(1)}%), within 3 voxels of one in ${near}/${held.length}\n`,
      );
      expect(hits / held.length).toBeGreaterThan(chance);
    },
    60_000,
  );
});
