import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { CT_RATE_LABELS, runVlm3d } from '@anymc3d/challenge-vlm3d';
import { foldThreshold } from '@anymc3d/core/metrics';
import { type PluginCard, pluginInput } from '@anymc3d/core/plugin';
import { Random } from '@anymc3d/core/util';
import { orientationCode, readVolume, type Vec3, type Volume, writeVolume } from '@anymc3d/core/volume';
import { EngineAnalyzer } from '@anymc3d/heatmap-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/**
 * One recipe, every consumer: a plugin trained by `vlm3d train` (tiny DINOv2, LoRA) records how a
 * CT becomes backbone input (HU, LPS, 1.5×1.5×3 mm, axial slices through the chest windows). A CT
 * stored in another orientation (axes permuted and flipped) with anisotropic spacing then goes
 * through `vlm3d run`, `anymc3d predict`, `anymc3d heatmap` and the heatmap server: the same
 * probabilities to 1e-6 and the same heatmap voxels.
 */
const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const TASK = fileURLToPath(new URL('../../packages/core/assets/tasks/ct-rate.json', import.meta.url));

let root: string;
let backbone: string;
let plugin: string;
let ctPath: string;

async function anymc3d(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args, '--no-progress'], {
    env: { ...process.env, ANYMC3D_CACHE: '' },
    maxBuffer: 1 << 26,
  });
}

async function vlm3d(args: string[]): Promise<void> {
  const code = await runVlm3d(args, () => {});
  if (code !== 0) throw new Error(`vlm3d ${args.join(' ')} exited ${code}`);
}

/** A chest-like CT in HU (air, body, two lungs of different size, a bright spine) on an LPS grid. */
function chest(seed: number, size: Vec3, spacing: Vec3): Volume {
  const [nx, ny, nz] = size;
  const rand = new Random(seed);
  const data = new Int16Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const x = (i - nx / 2 - (seed % 3)) / (nx * 0.42);
        const y = (j - ny / 2) / (ny * 0.32);
        let hu = -1000;
        if (x * x + y * y < 1) {
          hu = 40;
          if ((x - 0.45) ** 2 + y * y < 0.18 + 0.02 * (k % 3) || (x + 0.45) ** 2 + y * y < 0.08) hu = -850;
          if (Math.abs(x) < 0.12 && y > 0.55) hu = 700 - 40 * (seed % 4);
        }
        data[i + nx * (j + ny * k)] = Math.max(-1024, Math.round(hu + 10 * rand.normal()));
      }
  return { size, spacing, origin: [-20, -25, -30], direction: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), data };
}

/**
 * The same anatomy stored with its axes permuted and flipped (i runs inferior→superior along the
 * old k, j right→left along the old i, k anterior→posterior along the old j): voxels and geometry
 * move together, so the world is unchanged and only a reader that reorients sees the same slices.
 */
function permuted(v: Volume): Volume {
  const [nx, ny, nz] = v.size;
  const size: Vec3 = [nz, nx, ny];
  const data = new Int16Array(v.data.length);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        // new index (a, b, c) = (k, nx-1-i, ny-1-j)
        const a = k;
        const b = nx - 1 - i;
        const c = ny - 1 - j;
        data[a + size[0] * (b + size[1] * c)] = v.data[i + nx * (j + ny * k)]!;
      }
  // world = origin + D·diag(s)·index; old index (i, j, k) = (nx-1-b, ny-1-c, a).
  const [sx, sy, sz] = v.spacing;
  const origin: Vec3 = [v.origin[0] + (nx - 1) * sx, v.origin[1] + (ny - 1) * sy, v.origin[2]];
  // Columns: new axis a → old +k (S), b → old −i (R), c → old −j (A).
  const direction = Float64Array.from([0, -1, 0, 0, 0, -1, 1, 0, 0]);
  return { size, spacing: [sz, sx, sy], origin, direction, data };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'anymc3d-recipe-'));
  backbone = join(root, 'backbone');
  await writeTinyDinov2(backbone, { name: 'tiny_dinov2', hiddenSize: 32, layers: 1, heads: 2, imageSize: 16 });
  // A CT-RATE v2 download in miniature: 20 train patients, 2 validation volumes, anisotropic CT.
  const dataset = join(root, 'ct-rate', 'dataset');
  await mkdir(join(dataset, 'multi_abnormality_labels'), { recursive: true });
  const parts = {
    train: Array.from({ length: 20 }, (_, p) => `train_${p + 1}_a_1`),
    valid: ['valid_1_a_1', 'valid_2_a_1'],
  };
  let seed = 0;
  for (const [part, names] of Object.entries(parts)) {
    const lines = [['VolumeName', ...CT_RATE_LABELS].join(',')];
    for (const name of names) {
      const [split, patient, scan] = name.split('_');
      const folder = join(dataset, `${part}_fixed`, `${split}_${patient}`, `${split}_${patient}_${scan}`);
      await mkdir(folder, { recursive: true });
      await writeVolume(chest(++seed, [20, 20, 8], [1.2, 1.2, 3.5]), join(folder, `${name}.nii.gz`));
      lines.push([`${name}.nii.gz`, ...CT_RATE_LABELS.map((_, l) => (l + seed) % 2)].join(','));
    }
    await writeFile(join(dataset, 'multi_abnormality_labels', `${part}_predicted_labels.csv`), `${lines.join('\n')}\n`);
  }
  plugin = join(root, 'plugin');
  await vlm3d([
    'train',
    '--ct-rate',
    join(root, 'ct-rate'),
    '--backbone',
    backbone,
    '-o',
    plugin,
    '--input-size',
    '16',
    '--lora-steps',
    '2',
    '--batch',
    '2',
    '--lr-lora',
    '5e-2',
    '--threads',
    '1',
  ]);
  // The case every consumer reads: stored in another orientation at another anisotropic spacing.
  ctPath = join(root, 'input', 'valid_9_a_1.nii.gz');
  await mkdir(join(root, 'input'));
  await writeVolume(permuted(chest(9, [22, 18, 10], [1.1, 1.4, 2.6])), ctPath);
}, 300_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('one recipe in plugin.json, one case pipeline for every consumer', () => {
  it('the plugin records the whole recipe, and the test CT really is stored otherwise', async () => {
    const card = JSON.parse(await readFile(join(plugin, 'plugin.json'), 'utf8')) as PluginCard;
    expect(card.lora?.rank).toBe(8);
    const input = pluginInput(card);
    expect(input).toMatchObject({ intensity: 'ct-hu', orientation: 'LPS', spacing: [1.5, 1.5, 3] });
    const { volume } = await readVolume(ctPath);
    expect(orientationCode(volume.direction)).not.toBe('LPS');
    expect(new Set(volume.spacing).size).toBe(3);
  });

  it('vlm3d run, anymc3d predict, anymc3d heatmap and the server agree to 1e-6 and voxel for voxel', async () => {
    // vlm3d: the container's path, uncalibrated so the plugin's own probabilities are compared.
    const weights = join(root, 'weights');
    await vlm3d(['package', '--backbone', backbone, '--plugin', plugin, '-o', weights]);
    await vlm3d(['run', '-i', join(root, 'input'), '-o', join(root, 'vlm3d-out'), '--weights', weights, '-q']);
    const results = JSON.parse(await readFile(join(root, 'vlm3d-out', 'results.json'), 'utf8')) as {
      predictions: { probabilities: Record<string, number> }[];
    };
    const fromVlm3d = CT_RATE_LABELS.map((l) => results.predictions[0]!.probabilities[l]!);

    // anymc3d predict (folds the same card thresholds), with heatmaps.
    const manifest = join(root, 'manifest.csv');
    await writeFile(
      manifest,
      `id,split,image,${CT_RATE_LABELS.map((l) => `"${l}"`).join(',')}\nvalid_9_a_1,test,${ctPath},${CT_RATE_LABELS.map(() => 0).join(',')}\n`,
    );
    const packaged = join(weights, 'plugin');
    await anymc3d([
      'predict',
      '-t',
      TASK,
      '-m',
      manifest,
      '-b',
      join(weights, 'backbone'),
      '--plugin',
      packaged,
      '-o',
      join(root, 'predict'),
      '--heatmaps',
    ]);
    const predicted = JSON.parse(await readFile(join(root, 'predict', 'predictions.json'), 'utf8')) as {
      cases: { probabilities: Record<string, number> }[];
    };
    const fromPredict = CT_RATE_LABELS.map((l) => predicted.cases[0]!.probabilities[l]!);
    for (const [l, p] of fromPredict.entries())
      expect(Math.abs(p - fromVlm3d[l]!), CT_RATE_LABELS[l]).toBeLessThanOrEqual(1e-6);

    // anymc3d heatmap: the raw probability of the first label, and the map on the CT's own grid.
    const heatmap = async (input: string, plugin: string, out: string) =>
      JSON.parse(
        (
          await anymc3d([
            'heatmap',
            '-i',
            input,
            '--plugin',
            plugin,
            '-b',
            join(weights, 'backbone'),
            '-o',
            out,
            '--json',
          ])
        ).stdout,
      ) as { probability: number; files: { nifti: string } };
    const summary = await heatmap(ctPath, packaged, join(root, 'heatmap'));
    const card = JSON.parse(await readFile(join(packaged, 'plugin.json'), 'utf8')) as PluginCard;
    expect(Math.abs(foldThreshold(summary.probability, card.thresholds[0]!) - fromVlm3d[0]!)).toBeLessThanOrEqual(1e-6);
    const heat = (await readVolume(summary.files.nifti)).volume;
    const { volume: ct } = await readVolume(ctPath);
    expect(heat.size).toEqual(ct.size);
    expect(Array.from(heat.direction)).toEqual(Array.from(ct.direction));
    const predictHeat = (await readVolume(join(root, 'predict', 'heatmaps', 'valid_9_a_1', 'medical-material.nii.gz')))
      .volume;
    expect(Array.from(predictHeat.data as Float32Array)).toEqual(Array.from(heat.data as Float32Array));

    // The same anatomy stored LPS gives the same probability (reorientation is an exact permutation);
    // the stored axes sliced as they are (the recipe's orientation dropped) give another one.
    const lpsPath = join(root, 'lps', 'valid_9_a_1.nii.gz');
    await writeVolume(chest(9, [22, 18, 10], [1.1, 1.4, 2.6]), lpsPath);
    const lps = await heatmap(lpsPath, packaged, join(root, 'h-lps'));
    expect(Math.abs(lps.probability - summary.probability)).toBeLessThanOrEqual(1e-6);
    const unoriented = join(root, 'plugin-unoriented');
    await cp(packaged, unoriented, { recursive: true });
    await writeFile(
      join(unoriented, 'plugin.json'),
      JSON.stringify({ ...card, input: { ...card.input, orientation: null } }),
    );
    const stored = await heatmap(ctPath, unoriented, join(root, 'h-stored'));
    expect(Math.abs(stored.probability - summary.probability)).toBeGreaterThan(1e-4);

    // The heatmap server's engine on the same upload.
    const analyzer = await EngineAnalyzer.create({
      backbone: join(weights, 'backbone'),
      plugins: [packaged],
      threads: 1,
    });
    const outDir = join(root, 'server');
    await mkdir(outDir);
    const served = await analyzer.analyze({
      volumePath: ctPath,
      format: 'nifti',
      pluginIds: [analyzer.plugins[0]!.id],
      outDir,
      onProgress: () => {},
      signal: new AbortController().signal,
    });
    await analyzer.close();
    const servedProbabilities = served.predictions[analyzer.plugins[0]!.id]!;
    CT_RATE_LABELS.forEach((label, l) => {
      expect(
        Math.abs(foldThreshold(servedProbabilities[label]!, card.thresholds[l]!) - fromVlm3d[l]!),
        label,
      ).toBeLessThanOrEqual(1e-6);
    });
    const servedPath = Object.values(served.heatmaps[analyzer.plugins[0]!.id]!)[0]!;
    // uint8 with scl_slope 1/255: the reader gives [0, 1].
    const servedHeat = (await readVolume(servedPath)).volume;
    expect(servedHeat.size).toEqual(ct.size);
    let worst = 0;
    for (let i = 0; i < heat.data.length; i++)
      worst = Math.max(worst, Math.abs(Number(servedHeat.data[i]) - Number(heat.data[i])));
    expect(worst, 'served uint8 map vs anymc3d heatmap').toBeLessThanOrEqual(0.5 / 255 + 1e-6);
  });

  it('vlm3d train --mode frozen after anymc3d features finds every token in the one cache (zero backbone passes)', async () => {
    // The CLI's manifest of the same CT-RATE volumes, ids as CT-RATE names them.
    const dataset = join(root, 'ct-rate', 'dataset');
    const rows: string[] = [];
    for (const line of (await readFile(join(dataset, 'multi_abnormality_labels', 'train_predicted_labels.csv'), 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .concat(
        (await readFile(join(dataset, 'multi_abnormality_labels', 'valid_predicted_labels.csv'), 'utf8'))
          .trim()
          .split('\n')
          .slice(1),
      )) {
      const [file, ...labels] = line.split(',');
      const id = file!.replace('.nii.gz', '');
      const [split, patient, scan] = id.split('_');
      const image = join(dataset, `${split}_fixed`, `${split}_${patient}`, `${split}_${patient}_${scan}`, file!);
      rows.push(`${id},train,${image},${labels.join(',')}`);
    }
    const manifest = join(root, 'ct-rate-manifest.csv');
    await writeFile(manifest, `id,split,image,${CT_RATE_LABELS.map((l) => `"${l}"`).join(',')}\n${rows.join('\n')}\n`);
    const cache = join(root, 'shared-cache');
    const f = await run(
      process.execPath,
      [
        CLI,
        'features',
        '-t',
        TASK,
        '-m',
        manifest,
        '-b',
        backbone,
        '-o',
        join(root, 'features'),
        '--input-size',
        '16',
        '--no-progress',
      ],
      {
        env: { ...process.env, ANYMC3D_CACHE: cache },
      },
    );
    expect(f.stdout).toContain('22 cases × 1 views (fp32): 22 computed, 0 from the cache');
    const cacheDir = f.stdout.trim().split('→ ').at(-1)!;
    // vlm3d's frozen mode: the same recipe (the ct-rate card's), the same backbone, the same folder.
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((t) => {
      stderr += String(t);
      return true;
    });
    const args = ['train', '--mode', 'frozen', '--ct-rate', join(root, 'ct-rate'), '--backbone', backbone];
    const code = await runVlm3d(
      [
        ...args,
        '-o',
        join(root, 'frozen-plugin'),
        '--input-size',
        '16',
        '--cache',
        cache,
        '--steps',
        '2',
        '--threads',
        '1',
      ],
      () => {},
    ).finally(() => spy.mockRestore());
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`frozen tokens (fp32): 0 volume(s) through the backbone, the rest from ${cacheDir}`);
  });
});
