/**
 * Seconds per CT-RATE-sized volume in the VLM3D container's own code (`runChallenge`): a
 * 512×512×300 int16 chest-like .nii.gz with an oblique affine (bench/python/read_volume.py), read,
 * checked for HU, reoriented to LPS, resampled to 1.5×1.5×3 mm, sliced axially at 224² through the
 * chest windows, through the backbone and an 18-label plugin, thresholds folded, predictions.json
 * written. Backbones: the shipped MobileNet v1 (TFLite, ImageNet) and a DINOv2 ViT-B/14 with random
 * weights (the size of the challenge entry), each fp32 and int8. Peers in the same run: nibabel
 * reading the same file, and PyTorch eager running the same ViT-B/14 on the same slice count (with
 * this machine's OPENBLAS_CORETYPE override removed for the peer, so it runs its best kernels).
 *
 *   node bench/dist/vlm3d-volume.js [--volumes 3] [--threads 2] [--models mobilenet,vitb]
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { resolveBackbone } from '@anymc3d/adapters';
import {
  CHEST_WINDOWS,
  CT_RATE_LABELS,
  chestInput,
  DEFAULT_SPACING,
  loadChallengeModel,
  packageWeights,
  readCase,
  runChallenge,
} from '@anymc3d/challenge-vlm3d';
import type { Precision } from '@anymc3d/core/graph';
import type { TaskCard } from '@anymc3d/core/plugin';
import { type FeatureCase, trainPlugin } from '@anymc3d/core/train';
import { Random } from '@anymc3d/core/util';
import { appendResults, type Cell, markdownTable, measureLoad } from './harness.js';
import { peerEnv, peerKernel } from './peer.js';
import { writeRandomVit } from './random-vit.js';

const run = promisify(execFile);
const READ_PEER = fileURLToPath(new URL('../python/read_volume.py', import.meta.url));
const VIT_PEER = fileURLToPath(new URL('../../packages/adapters/fixtures/dinov2_reference.py', import.meta.url));
const TEST_VOLUMES = 3024; // VLM3D 2026: 2,000 internal + 1,024 external test volumes
const SIZE = 224;
// The peer's best batch here: measured 3.44 slices/s at 8, 1.63 at 16 (ViT-B/14, 2 threads, no OpenBLAS override).
const PEER_BATCH = 8;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** An 18-label plugin for `backbone` trained one step on random tokens: the head's cost is what matters here. */
async function weightsFor(backboneDir: string, dir: string): Promise<string> {
  const backbone = await resolveBackbone(backboneDir);
  const task: TaskCard = {
    task: 'ct-rate-18',
    kind: 'multilabel',
    labels: [...CT_RATE_LABELS],
    views: ['axial'],
    axis: 'axial',
    windows: CHEST_WINDOWS,
    inputSize: [SIZE, SIZE],
    thresholds: CT_RATE_LABELS.map(() => 0.5),
    input: chestInput(SIZE),
  };
  const rand = new Random(3);
  const d = backbone.card.embedDim;
  const features: FeatureCase[] = [1, 2].map((k) => ({
    id: `case${k}`,
    slices: 4,
    tokens: Float32Array.from({ length: 4 * d }, () => rand.normal()),
    labels: CT_RATE_LABELS.map((_, l) => (l + k) % 2),
  }));
  const pluginDir = join(dir, 'plugin');
  await trainPlugin({
    source: { features, backbone: { name: backbone.card.name, weightHash: backbone.weightHash } },
    task,
    outDir: pluginDir,
    options: { steps: 1, batchSize: 2, accumulate: 1, warmup: 1, seed: 1 },
    threads: 1,
  });
  const weights = join(dir, 'weights');
  await packageWeights({ backbone: backboneDir, plugin: pluginDir, output: weights });
  return weights;
}

interface Timing {
  firstSeconds: number;
  steadySeconds: number;
  readSeconds: number;
  backboneSeconds: number;
  slices: number;
}

async function timeRun(
  weights: string,
  input: string,
  output: string,
  precision: Precision,
  threads: number,
): Promise<Timing> {
  const marks: number[] = [];
  const started = Date.now();
  await runChallenge({
    input,
    output,
    weights,
    precision,
    threads,
    log: (line) => {
      if (/^\[\d+\/\d+\]/.test(line)) marks.push(Date.now());
      process.stderr.write(`  ${line}\n`);
    },
  });
  const steady = marks.length > 1 ? (marks.at(-1)! - marks[0]!) / (marks.length - 1) / 1000 : Number.NaN;
  // The same stages, timed apart on one (warm) volume.
  const model = await loadChallengeModel(weights, { threads, precision });
  const path = join(input, 'valid_1_a_1.nii.gz');
  const input0 = await readCase(path, model.recipe, model.backbone.card);
  await model.plugin.predict(input0.pixels, input0.slices);
  let t = performance.now();
  const prepared = await readCase(path, model.recipe, model.backbone.card);
  const readSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  await model.plugin.predict(prepared.pixels, prepared.slices);
  const backboneSeconds = (performance.now() - t) / 1000;
  await model.plugin.release();
  return {
    firstSeconds: (marks[0]! - started) / 1000,
    steadySeconds: steady,
    readSeconds,
    backboneSeconds,
    slices: prepared.slices,
  };
}

async function main(): Promise<void> {
  const volumes = Number(arg('volumes', '3'));
  const threads = Number(arg('threads', '2'));
  const models = arg('models', 'mobilenet,vitb').split(',');
  const root = await mkdtemp(join(tmpdir(), 'vlm3d-volume-'));
  try {
    const ct = join(root, 'ct-512x512x300.nii.gz');
    await run('/usr/bin/python3', [READ_PEER, 'make', ct]);
    const input = join(root, 'input');
    await mkdir(input);
    for (let k = 1; k <= volumes; k++) await symlink(ct, join(input, `valid_${k}_a_1.nii.gz`));
    const rows: Cell[][] = [];
    const ratios: string[] = [];
    const notes: string[] = [];
    const { load } = await measureLoad(async () => {
      const nib = JSON.parse(
        (await run('/usr/bin/python3', [READ_PEER, 'time', ct, '2'], { env: peerEnv(threads) })).stdout,
      ) as {
        seconds: number[];
      };
      const nibSeconds = Math.min(...nib.seconds);
      let vitSlices = 0;
      let vitOrt = 0;
      for (const model of models) {
        const dir = join(root, model);
        let backboneDir: string;
        if (model === 'mobilenet') backboneDir = 'mobilenet_v1_224';
        else {
          backboneDir = join(dir, 'backbone');
          await writeRandomVit(backboneDir, 'B', SIZE);
        }
        const weights = await weightsFor(backboneDir, dir);
        for (const precision of ['fp32', 'int8'] as const) {
          process.stderr.write(`${model} ${precision}\n`);
          const t = await timeRun(weights, input, join(dir, `out-${precision}`), precision, threads);
          const label = model === 'mobilenet' ? 'MobileNet v1 (shipped)' : 'DINOv2 ViT-B/14 (random weights)';
          rows.push([
            label,
            precision,
            t.slices,
            t.firstSeconds,
            t.steadySeconds,
            t.readSeconds,
            t.backboneSeconds,
            (t.steadySeconds * TEST_VOLUMES) / 3600,
          ]);
          if (model === 'vitb' && precision === 'fp32') {
            vitSlices = t.slices;
            vitOrt = t.backboneSeconds;
          }
          ratios.push(
            `${label} ${precision}: read+prepare ÷ nibabel read alone = ${(t.readSeconds / nibSeconds).toFixed(2)}×`,
          );
        }
      }
      if (vitSlices > 0) {
        const { stdout } = await run(
          '/usr/bin/python3',
          [VIT_PEER, 'bench', join(root, 'vitb', 'backbone'), String(SIZE), String(PEER_BATCH), '3'],
          {
            env: peerEnv(threads),
            timeout: 1_800_000,
          },
        );
        const torch = JSON.parse(stdout.trim().split('\n').pop()!) as { slices_per_s: number };
        const torchSeconds = vitSlices / torch.slices_per_s;
        ratios.push(
          `ViT-B/14 fp32 backbone+head on ${vitSlices} slices: ORT ${vitOrt.toFixed(1)} s ÷ PyTorch eager forward ${torchSeconds.toFixed(1)} s (${torch.slices_per_s.toFixed(2)} slices/s at batch ${PEER_BATCH}) = ${(vitOrt / torchSeconds).toFixed(2)}×`,
        );
      }
      notes.push(`nibabel read of the same file (peer): ${nibSeconds.toFixed(2)} s (best of 2).`);
      notes.push(
        `Peer configuration: ${await peerKernel(threads)}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for the peers, ${threads} threads.`,
      );
    });
    const table = markdownTable(
      [
        'backbone',
        'precision',
        'slices',
        'first volume s (load + warm-up)',
        's / volume',
        'read + prepare s',
        'backbone + head s',
        `${TEST_VOLUMES} volumes (h)`,
      ],
      rows,
    );
    process.stdout.write(`${table}\n${ratios.join('\n')}\n`);
    await appendResults(
      {
        title: 'VLM3D container: seconds per CT-RATE-sized volume (512×512×300)',
        command: `node bench/dist/vlm3d-volume.js --volumes ${volumes} --threads ${threads} --models ${models.join(',')}`,
        table,
        ratios,
        notes: [
          `runChallenge on ${volumes} copies of one 512×512×300 int16 .nii.gz (oblique affine, 0.7×0.7×1.25 mm): read, HU check, LPS, resample to ${DEFAULT_SPACING.join('×')} mm, axial slices at ${SIZE}², chest windows, backbone, 18-label head, predictions.json + results.json. s / volume is the mean over volumes 2…${volumes}; the stage split is one further warm volume.`,
          ...notes,
          `${TEST_VOLUMES} volumes (h) = s / volume × ${TEST_VOLUMES} on this CPU; the platform runs one NVIDIA L4, not measured here.`,
        ],
      },
      load,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
