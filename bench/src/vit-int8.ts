import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalisePixels, readBmp, resizeBilinear } from '@anymc3d/adapters';
import { loadFolder } from '@anymc3d/adapters/registry';
import { buildBackboneGraph } from '@anymc3d/core/backbone';
import { tensor } from '@anymc3d/core/graph';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { int8VersusFp32 } from './int8-versus-fp32.js';
import { peerKernel, runPeer } from './peer.js';
import { writeRandomVit } from './random-vit.js';

/**
 * DINOv2 ViT-S/14 (the project's emitted graph, random weights at the real sizes) at 224², int8
 * (dynamic quantisation of the weight MatMuls) versus fp32, on a real image batch (the three
 * Coral test photographs, repeated to a batch of 8), with PyTorch fp32 as the peer in the same run.
 * Run: node bench/dist/vit-int8.js [threads=2] [iterations=5]
 */
const REFERENCE = fileURLToPath(new URL('../../packages/adapters/fixtures/dinov2_reference.py', import.meta.url));
const IMAGES = fileURLToPath(new URL('../../../shared/models/mobilenet-imagenet/', import.meta.url));
const THREADS = Number(process.argv[2] ?? 2);
const ITERATIONS = Number(process.argv[3] ?? 5);
const BATCH = 8;

async function imageBatch(): Promise<Float32Array> {
  const names = ['cat.bmp', 'bird.bmp', 'grace_hopper.bmp'];
  const per = 3 * 224 * 224;
  const out = new Float32Array(BATCH * per);
  for (let b = 0; b < BATCH; b++) {
    const path = join(IMAGES, names[b % names.length]!);
    const image = resizeBilinear(readBmp(new Uint8Array(await readFile(path)), path), 224, 224);
    out.set(normalisePixels(image, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), b * per);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vit-int8-'));
  await writeRandomVit(dir, 'S');
  const backbone = await loadFolder(dir);
  const { graph } = buildBackboneGraph(backbone, [224, 224]);
  const pixels = tensor('float32', [BATCH, 3, 224, 224], await imageBatch());
  const { result, load } = await measureLoad(async () => {
    const ours = await int8VersusFp32('DINOv2 ViT-S/14', graph, { pixels }, BATCH, {
      threads: THREADS,
      iterations: ITERATIONS,
    });
    const stdout = await runPeer(REFERENCE, ['bench', dir, '224', String(BATCH), String(ITERATIONS)], THREADS);
    const torch = JSON.parse(stdout.trim().split('\n').pop()!) as { slices_per_s: number; torch: string };
    return { ours, torch };
  });
  await rm(dir, { recursive: true, force: true });
  const { ours, torch } = result;
  const table = markdownTable(
    ['DINOv2 ViT-S/14, 224², batch 8, real images', `${THREADS} threads, slices/s`],
    [
      ['ONNX Runtime fp32 (emitted graph)', ours.fp32PerSecond],
      [
        `ONNX Runtime int8 (${ours.quantizedMatMuls} MatMuls quantised, ${ours.floatMatMuls} left float)`,
        ours.int8PerSecond,
      ],
      [`PyTorch ${torch.torch} fp32`, torch.slices_per_s],
    ],
  );
  const section = await appendResults(
    {
      title: 'ViT-S/14 int8 versus fp32 (and PyTorch fp32)',
      command: `node bench/dist/vit-int8.js ${THREADS} ${ITERATIONS}`,
      table,
      ratios: [
        `int8 ÷ fp32 throughput = ${(ours.int8PerSecond / ours.fp32PerSecond).toFixed(2)}× (goal ≥ 2×)`,
        `int8 ÷ PyTorch fp32 = ${(ours.int8PerSecond / torch.slices_per_s).toFixed(2)}× (goal ≥ 4×)`,
        `cosine of the first output (CLS, [8, 384]) int8 vs fp32 = ${ours.cosine.toFixed(6)} (goal ≥ 0.999); max |Δ| ${ours.maxAbsDiff.toPrecision(3)}`,
      ],
      notes: [
        `Peer at its best (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed, OMP_WAIT_POLICY=PASSIVE, no-trim malloc): ${await peerKernel(THREADS)}.`,
        'Random weights at the real ViT-S sizes (no DINOv2 weights can be downloaded here): trained weights have activation outliers, so re-check accuracy on them.',
      ],
    },
    load,
  );
  process.stdout.write(`${section}\n`);
}

await main();
