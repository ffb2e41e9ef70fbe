import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadFolder } from '@anymc3d/adapters/registry';
import { buildBackboneGraph } from '@anymc3d/core/backbone';
import { randomNormal } from '@anymc3d/core/testing';
import { appendResults, markdownTable, measureLoad, median } from './harness.js';
import { timeGraphs } from './int8-versus-fp32.js';
import { writeRandomVit } from './random-vit.js';

/**
 * ViT-S/14 inference variants whose differences are smaller than this VM's run-to-run spread,
 * each timed in a fresh process (one session in memory, nothing interleaved with it), the
 * variants alternated `rounds` times: the product's graph (attention fused, threads sleeping
 * between ops), the same with attention as MatMul·Softmax·MatMul, and the same with threads
 * spin-waiting (ANYMC3D_ORT_SPINNING=1); in int8 and fp32, batch 8 at 224², random weights.
 * Run: node bench/dist/vit-variants.js [rounds=6] [threads=2]
 */
const VARIANTS = ['fused', 'explicit', 'spinning'] as const;
type Variant = (typeof VARIANTS)[number];
const PRECISIONS = ['int8', 'fp32'] as const;
type Precision = (typeof PRECISIONS)[number];
const BATCH = 8;
const RUNS = 7;

const LABELS: Record<Variant, string> = {
  fused: 'attention fused, threads sleeping (the product)',
  explicit: 'attention as MatMul·Softmax·MatMul',
  spinning: 'attention fused, threads spin-waiting (ANYMC3D_ORT_SPINNING=1)',
};

/** In the child: one variant's median slices/s over RUNS runs after one warm-up (timeGraphs). */
async function child(dir: string, variant: Variant, precision: Precision, threads: number): Promise<void> {
  const backbone = await loadFolder(dir);
  const { graph } = buildBackboneGraph(backbone, [224, 224], undefined, precision, {
    fusedAttention: variant !== 'explicit',
  });
  const pixels = randomNormal([BATCH, 3, 224, 224], 5);
  const [timing] = await timeGraphs(
    [graph],
    { pixels },
    { threads, iterations: RUNS, allowSpinning: variant === 'spinning' },
  );
  process.stdout.write(`${JSON.stringify({ slicesPerSecond: BATCH / timing!.median })}\n`);
}

const run = promisify(execFile);

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 6);
  const threads = Number(process.argv[3] ?? 2);
  const dir = await mkdtemp(join(tmpdir(), 'vit-variants-'));
  await writeRandomVit(dir, 'S');
  const rates = new Map<string, number[]>();
  const { load } = await measureLoad(async () => {
    for (let round = 0; round < rounds; round++) {
      for (const precision of PRECISIONS) {
        for (const variant of VARIANTS) {
          const args = [fileURLToPath(import.meta.url), '--child', dir, variant, precision, String(threads)];
          const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
          const { slicesPerSecond } = JSON.parse(stdout.trim().split('\n').pop()!) as { slicesPerSecond: number };
          const key = `${precision} ${variant}`;
          rates.set(key, [...(rates.get(key) ?? []), slicesPerSecond]);
          process.stderr.write(`round ${round + 1}/${rounds} ${key}: ${slicesPerSecond.toFixed(2)} slices/s\n`);
        }
      }
    }
  });
  await rm(dir, { recursive: true, force: true });
  const of = (precision: Precision, variant: Variant) => median(rates.get(`${precision} ${variant}`)!);
  const rows = PRECISIONS.flatMap((precision) =>
    VARIANTS.map((variant) => {
      const xs = rates.get(`${precision} ${variant}`)!;
      return [
        precision,
        LABELS[variant],
        of(precision, variant),
        `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`,
        `${(of(precision, variant) / of(precision, 'fused')).toFixed(3)}×`,
      ];
    }),
  );
  const table = markdownTable(
    ['precision', 'ViT-S/14, 224², batch 8', 'slices/s, median of processes', 'range', '÷ the product'],
    rows,
  );
  const section = await appendResults(
    {
      title: 'ViT-S/14 inference variants, each in its own process',
      command: `node bench/dist/vit-variants.js ${rounds} ${threads}`,
      table,
      ratios: PRECISIONS.flatMap((p) => [
        `${p}: attention fused ÷ MatMul·Softmax·MatMul = ${(of(p, 'fused') / of(p, 'explicit')).toFixed(3)}×`,
        `${p}: threads spin-waiting ÷ sleeping = ${(of(p, 'spinning') / of(p, 'fused')).toFixed(3)}×`,
      ]),
      notes: [
        `${rounds} rounds; each round runs every variant once, each in a fresh Node process (load, build, quantise, one warm-up run, the median of ${RUNS} timed runs); the table gives the median and the range of those per-process medians.`,
        `ONNX Runtime ${threads} intra-op threads; random weights at the real ViT-S sizes.`,
      ],
    },
    load,
  );
  process.stdout.write(`${section}\n`);
}

if (process.argv[2] === '--child') {
  const [dir, variant, precision, threads] = process.argv.slice(3);
  await child(dir!, variant as Variant, precision as Precision, Number(threads));
} else {
  await main();
}
