/**
 * Frozen ViT forward at 224², slices/s: the emitted DINOv2 graph on ONNX Runtime (FrozenEmbedder)
 * vs PyTorch eager (packages/adapters/fixtures/dinov2_reference.py, the parity reference) on the
 * same random-weight Hugging Face folders, at 1 and 2 threads, in the same run.
 *
 *   node bench/dist/vit-forward.js [--batch 8] [--reps 3] [--models s,b]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadFolder } from '@anymc3d/adapters/registry';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { FrozenEmbedder } from '@anymc3d/core/backbone';
import { appendResults, type Cell, markdownTable, measureLoad } from './harness.js';

const run = promisify(execFile);
const REFERENCE = fileURLToPath(new URL('../../packages/adapters/fixtures/dinov2_reference.py', import.meta.url));

const MODELS = {
  s: { label: 'ViT-S/14', hiddenSize: 384, layers: 12, heads: 6 },
  b: { label: 'ViT-B/14', hiddenSize: 768, layers: 12, heads: 12 },
} as const;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function ortSlicesPerSecond(dir: string, threads: number, batch: number, reps: number): Promise<number> {
  const backbone = await loadFolder(dir);
  const embedder = new FrozenEmbedder(backbone, { threads, batchSize: batch });
  const data = Float32Array.from({ length: batch * 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.001));
  const pixels = { dtype: 'float32' as const, dims: [batch, 3, 224, 224], data };
  // Two warm-up runs: arena growth and the memory pattern make the first runs slow.
  await embedder.embed(pixels);
  await embedder.embed(pixels);
  const start = performance.now();
  for (let r = 0; r < reps; r++) await embedder.embed(pixels);
  const seconds = (performance.now() - start) / 1000;
  await embedder.release();
  return (batch * reps) / seconds;
}

async function torchSlicesPerSecond(
  dir: string,
  threads: number,
  batch: number,
  reps: number,
): Promise<{ rate: number; torch: string }> {
  // Fair PyTorch settings on this machine type (ORT-BACKWARD.md §7.6): BLAS threads pinned too,
  // passive OpenMP waits, no mmap/trim churn of large tensors.
  const env = {
    ...process.env,
    BENCH_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    OMP_WAIT_POLICY: 'PASSIVE',
    MALLOC_MMAP_MAX_: '0',
    MALLOC_TRIM_THRESHOLD_: String(2 ** 40),
  };
  const { stdout } = await run('/usr/bin/python3', [REFERENCE, 'bench', dir, '224', String(batch), String(reps)], {
    env,
    timeout: 900_000,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as { slices_per_s: number; torch: string };
  return { rate: result.slices_per_s, torch: result.torch };
}

async function main() {
  const batch = Number(arg('batch', '8'));
  const reps = Number(arg('reps', '3'));
  const models = arg('models', 's,b').split(',') as (keyof typeof MODELS)[];
  const root = await mkdtemp(join(tmpdir(), 'vit-forward-'));
  const rows: Cell[][] = [];
  const ratios: string[] = [];
  let torchVersion = '';
  try {
    const { load } = await measureLoad(async () => {
      for (const key of models) {
        const m = MODELS[key];
        const dir = join(root, key);
        await writeTinyDinov2(dir, {
          name: m.label,
          hiddenSize: m.hiddenSize,
          layers: m.layers,
          heads: m.heads,
          patchSize: 14,
          imageSize: 224,
        });
        for (const threads of [1, 2]) {
          const ort = await ortSlicesPerSecond(dir, threads, batch, reps);
          const torch = await torchSlicesPerSecond(dir, threads, batch, reps);
          torchVersion = torch.torch;
          rows.push([m.label, threads, batch, ort, torch.rate, `${(ort / torch.rate).toFixed(2)}×`]);
          ratios.push(
            `${m.label}, ${threads} thread(s), batch ${batch}: ORT ÷ PyTorch = ${(ort / torch.rate).toFixed(2)}×`,
          );
          process.stderr.write(
            `${m.label} t=${threads}: ORT ${ort.toFixed(2)} slices/s, PyTorch ${torch.rate.toFixed(2)} slices/s\n`,
          );
        }
        await rm(dir, { recursive: true, force: true });
      }
    });
    const table = markdownTable(
      ['model', 'threads', 'batch', 'ORT slices/s', 'PyTorch slices/s', 'ORT ÷ PyTorch'],
      rows,
    );
    process.stdout.write(`${table}\n`);
    await appendResults(
      {
        title: 'Frozen ViT forward at 224² (DINOv2 graph on ONNX Runtime vs PyTorch eager)',
        command: `node bench/dist/vit-forward.js --batch ${batch} --reps ${reps} --models ${models.join(',')}`,
        table,
        ratios,
        notes: [
          `Random weights in Hugging Face DINOv2 layout; outputs cls + patch tokens + CLS attention; ${reps} timed batches after 2 warm-ups (ORT) / 1 (PyTorch).`,
          `PyTorch ${torchVersion} (Debian, OpenBLAS), no_grad, float32, torch.set_num_threads = OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE, MALLOC_MMAP_MAX_=0.`,
          'ORT: onnxruntime-node CPU EP, graph optimisation all, intra-op spinning off.',
        ],
      },
      load,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
