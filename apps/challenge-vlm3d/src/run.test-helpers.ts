import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { resolveBackbone } from '@anymc3d/adapters';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import type { TaskCard } from '@anymc3d/core/plugin';
import { type FeatureCase, trainPlugin } from '@anymc3d/core/train';
import { Random } from '@anymc3d/core/util';
import type { Vec3, Volume } from '@anymc3d/core/volume';
import { CT_RATE_LABELS } from './labels.js';
import { prepareCase } from './preprocess.js';
import { CHEST_WINDOWS, chestInput, DEFAULT_SPACING } from './weights.js';

export const SIZE: Vec3 = [24, 24, 12];

/**
 * A CT-like volume in HU (int16): air at −1000 around an elliptic body of soft tissue (~40 HU)
 * holding two darker lungs and a bright spine, with a little seeded noise. `seed` moves things
 * so that cases differ.
 */
export function chestVolume(seed: number): Volume {
  const [nx, ny, nz] = SIZE;
  const rand = new Random(seed);
  const data = new Int16Array(nx * ny * nz);
  const shift = (seed % 3) - 1;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const x = (i - nx / 2 - shift) / (nx * 0.42);
        const y = (j - ny / 2) / (ny * 0.32);
        let hu = -1000;
        if (x * x + y * y < 1) {
          hu = 40;
          // The lungs differ in size, so a left-right flip is visible.
          const lung = (x - 0.45) ** 2 + y * y < 0.18 + 0.01 * (k % 4) || (x + 0.45) ** 2 + y * y < 0.08;
          if (lung) hu = -850 + 30 * (seed % 4);
          if (Math.abs(x) < 0.12 && y > 0.55) hu = 700;
        }
        // Scanners store nothing below −1024 HU (raw value 0).
        data[i + nx * (j + ny * k)] = Math.max(-1024, Math.round(hu + 8 * rand.normal()));
      }
    }
  }
  return { size: [...SIZE], spacing: [...DEFAULT_SPACING], origin: [-18, -18, 0], direction: identity(), data };
}

export function identity(): Float64Array {
  return Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
}

/** The same anatomy stored with the i axis reversed (an RPS file): voxels and direction flipped together. */
export function flippedX(v: Volume): Volume {
  const [nx, ny, nz] = v.size;
  const data = new Float32Array(v.data.length);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[nx - 1 - i + nx * (j + ny * k)] = v.data[i + nx * (j + ny * k)]!;
  const origin: Vec3 = [v.origin[0] + (nx - 1) * v.spacing[0], v.origin[1], v.origin[2]];
  const direction = identity();
  direction[0] = -1;
  return { ...v, origin, direction, data };
}

/** Raw scanner values (HU + 1024, uint16): needs a rescale of slope 1, intercept −1024. */
export function rawVolume(v: Volume): Volume {
  return { ...v, data: Uint16Array.from(v.data, (x) => x + 1024) };
}

/** Rewrites a NIfTI-1 .nii.gz header's scl_slope/scl_inter in place. */
export async function setNiftiScale(path: string, slope: number, intercept: number): Promise<void> {
  const bytes = gunzipSync(await readFile(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getInt32(0, true) !== 348) throw new Error(`${path}: not a little-endian NIfTI-1 file`);
  view.setFloat32(112, slope, true);
  view.setFloat32(116, intercept, true);
  await writeFile(path, gzipSync(bytes));
}

/** Distinct thresholds per label, so folding is visible in the outputs. */
export const THRESHOLDS = CT_RATE_LABELS.map((_, l) => 0.3 + (0.4 * l) / (CT_RATE_LABELS.length - 1));

export const TASK: TaskCard = {
  task: 'ct-rate-18',
  kind: 'multilabel',
  labels: [...CT_RATE_LABELS],
  views: ['axial'],
  axis: 'axial',
  windows: CHEST_WINDOWS,
  inputSize: [16, 16],
  thresholds: THRESHOLDS,
  input: chestInput(16),
};

/**
 * A tiny DINOv2 folder and an 18-label plugin trained for a few steps on its frozen tokens of
 * volumes prepared exactly as `run` prepares them. (Frozen keeps these run tests fast; the LoRA
 * plugin's path through `run` is covered by train-lora.test.ts.)
 */
export async function tinyModel(dir: string): Promise<{ backbone: string; plugin: string }> {
  const backboneDir = join(dir, 'backbone');
  await writeTinyDinov2(backboneDir, { name: 'tiny_dinov2', hiddenSize: 32, layers: 1, heads: 2, imageSize: 16 });
  const backbone = await resolveBackbone(backboneDir);
  const embedder = new BackboneEmbedder(backbone, { threads: 1 });
  const rand = new Random(11);
  const features: FeatureCase[] = [];
  for (const seed of [1, 2, 3]) {
    const input = prepareCase(chestVolume(seed), `train_${seed}`, TASK.input!, backbone.card);
    const e = await embedder.embed({ dtype: 'float32', dims: [input.slices, 3, 16, 16], data: input.pixels });
    features.push({
      id: `train_${seed}`,
      slices: input.slices,
      tokens: e.cls.data as Float32Array,
      labels: CT_RATE_LABELS.map(() => (rand.next() < 0.5 ? 1 : 0)),
    });
  }
  await embedder.release();
  const pluginDir = join(dir, 'plugin');
  await trainPlugin({
    source: { features, backbone: { name: backbone.card.name, weightHash: backbone.weightHash } },
    task: TASK,
    outDir: pluginDir,
    options: { steps: 3, batchSize: 3, accumulate: 1, warmup: 1, lrHead: 1e-2, seed: 1 },
    threads: 1,
  });
  return { backbone: backboneDir, plugin: pluginDir };
}
