/**
 * Frozen ViT forward at 224², slices/s: the emitted graphs on ONNX Runtime (BackboneEmbedder) vs
 * PyTorch eager (each family's parity reference: packages/adapters/fixtures/dinov2_reference.py,
 * tower_reference.py) on the same random-weight Hugging Face folders, at 1 and 2 threads, in the
 * same run. Families: DINOv2 (patch 14), CLIP and SigLIP image towers (patch 16, SigLIP with its
 * attention-pooling head).
 *
 *   node bench/dist/vit-forward.js [--batch 8] [--reps 3] [--models s,b] [--families dinov2,clip,siglip]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadFolder } from '@anymc3d/adapters/registry';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import { appendResults, type Cell, markdownTable, measureLoad } from './harness.js';
import { peerKernel, runPeer } from './peer.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`../../packages/adapters/fixtures/${name}`, import.meta.url));
const SIZE = 224;

const MODELS = {
  s: { size: 'S', hiddenSize: 384, layers: 12, heads: 6 },
  b: { size: 'B', hiddenSize: 768, layers: 12, heads: 12 },
} as const;
type Model = (typeof MODELS)[keyof typeof MODELS];

interface Family {
  label: string;
  patch: number;
  reference: string;
  write(dir: string, m: Model): Promise<void>;
}

const tower =
  (family: 'clip' | 'siglip') =>
  async (dir: string, m: Model): Promise<void> => {
    const shape = [m.hiddenSize, m.layers, m.heads, 16, SIZE].map(String);
    await run('/usr/bin/python3', [fixture('tower_reference.py'), 'folder', family, dir, ...shape]);
  };

const FAMILIES: Record<string, Family> = {
  dinov2: {
    label: 'DINOv2',
    patch: 14,
    reference: fixture('dinov2_reference.py'),
    write: async (dir, m) => {
      await writeTinyDinov2(dir, {
        name: `dinov2-${m.size}`,
        hiddenSize: m.hiddenSize,
        layers: m.layers,
        heads: m.heads,
        patchSize: 14,
        imageSize: SIZE,
      });
    },
  },
  clip: { label: 'CLIP', patch: 16, reference: fixture('tower_reference.py'), write: tower('clip') },
  siglip: { label: 'SigLIP', patch: 16, reference: fixture('tower_reference.py'), write: tower('siglip') },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function ortSlicesPerSecond(dir: string, threads: number, batch: number, reps: number): Promise<number> {
  const backbone = await loadFolder(dir);
  const embedder = new BackboneEmbedder(backbone, { threads, batchSize: batch });
  const data = Float32Array.from({ length: batch * 3 * SIZE * SIZE }, (_, i) => Math.sin(i * 0.001));
  const pixels = { dtype: 'float32' as const, dims: [batch, 3, SIZE, SIZE], data };
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
  reference: string,
  dir: string,
  threads: number,
  batch: number,
  reps: number,
): Promise<number> {
  const stdout = await runPeer(reference, ['bench', dir, String(SIZE), String(batch), String(reps)], threads);
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { slices_per_s: number }).slices_per_s;
}

async function main() {
  const batch = Number(arg('batch', '8'));
  const reps = Number(arg('reps', '3'));
  const models = arg('models', 's,b').split(',') as (keyof typeof MODELS)[];
  const families = arg('families', 'dinov2,clip,siglip').split(',');
  for (const f of families) if (!FAMILIES[f]) throw new Error(`--families: unknown family ${f}`);
  const root = await mkdtemp(join(tmpdir(), 'vit-forward-'));
  const rows: Cell[][] = [];
  const ratios: string[] = [];
  const peers = new Set<string>();
  try {
    const { load } = await measureLoad(async () => {
      for (const name of families) {
        const family = FAMILIES[name]!;
        for (const key of models) {
          const m = MODELS[key];
          const label = `${family.label} ViT-${m.size}/${family.patch}`;
          const dir = join(root, `${name}-${key}`);
          await family.write(dir, m);
          for (const threads of [1, 2]) {
            const ort = await ortSlicesPerSecond(dir, threads, batch, reps);
            const torch = await torchSlicesPerSecond(family.reference, dir, threads, batch, reps);
            const peer = await peerKernel(threads);
            peers.add(peer);
            rows.push([label, threads, batch, ort, torch, `${(ort / torch).toFixed(2)}×`, peer]);
            ratios.push(`${label}, ${threads} thread(s), batch ${batch}: ORT ÷ PyTorch = ${(ort / torch).toFixed(2)}×`);
            process.stderr.write(
              `${label} t=${threads}: ORT ${ort.toFixed(2)} slices/s, PyTorch ${torch.toFixed(2)} slices/s\n`,
            );
          }
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
    const table = markdownTable(
      ['model', 'threads', 'batch', 'ORT slices/s', 'PyTorch slices/s', 'ORT ÷ PyTorch', 'peer'],
      rows,
    );
    process.stdout.write(`${table}\n`);
    await appendResults(
      {
        title: `Frozen ViT forward at ${SIZE}² (graphs on ONNX Runtime vs PyTorch eager): ${families.join(', ')}`,
        command: `node bench/dist/vit-forward.js --batch ${batch} --reps ${reps} --models ${models.join(',')} --families ${families.join(',')}`,
        table,
        ratios,
        notes: [
          `Random weights in each family's Hugging Face layout; outputs the pooled embedding + patch tokens + pooling attention; ${reps} timed batches after 2 warm-ups (ORT) / 1 (PyTorch).`,
          `Peer: no_grad, float32, torch.set_num_threads = OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE, MALLOC_MMAP_MAX_=0; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (${[...peers].join('; ')}).`,
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
