import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalisePixels, readBmp, resizeBilinear } from '@anymc3d/adapters';
import { loadFolder } from '@anymc3d/adapters/registry';
import { buildBackboneGraph } from '@anymc3d/core/backbone';
import { type Graph, quantizeDynamicInt8, type Tensor, tensor, withPrecision } from '@anymc3d/core/graph';
import { cosine } from '@anymc3d/core/testing';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { int8VersusFp32, timeGraph } from './int8-versus-fp32.js';
import { withMatMulNBits } from './matmul-nbits.js';
import { matrixProductMs, opTimes } from './ort-profile.js';
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

interface Alternative {
  label: string;
  perSecond: number;
  cosine: number;
}

/** Slices/s of another arithmetic of the same graph, and its CLS cosine to fp32's. */
async function alternative(label: string, graph: Graph, pixels: Tensor, reference: Float32Array): Promise<Alternative> {
  const { median, first } = await timeGraph(graph, { pixels }, { threads: THREADS, iterations: ITERATIONS });
  return {
    label,
    perSecond: BATCH / median,
    cosine: cosine(reference, first[graph.outputs[0]!.name]!.data as Float32Array),
  };
}

/**
 * The share of an int8 run spent in matrix-product kernels (ORT's profiler, runs after the first):
 * what the rest of the graph could at most give back if it cost nothing.
 */
async function gemmShare(graph: Graph, pixels: Tensor): Promise<{ gemm: number; ops: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'vit-int8-profile-'));
  process.env.ANYMC3D_ORT_PROFILE = folder;
  try {
    await timeGraph(graph, { pixels }, { threads: THREADS, iterations: ITERATIONS });
  } finally {
    delete process.env.ANYMC3D_ORT_PROFILE;
  }
  const { ops, runsMs } = await opTimes(folder);
  await rm(folder, { recursive: true, force: true });
  const gemmMs = matrixProductMs(ops);
  const top = ops
    .slice(0, 6)
    .map((o) => `${o.op} ${((100 * o.ms) / runsMs).toFixed(1)} %`)
    .join(', ');
  return { gemm: gemmMs / runsMs, ops: top };
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
    // The alternatives #20 P1 names: attention's MatMuls in int8 too, and ORT's block-quantised MatMulNBits.
    const { reference } = ours;
    const withAttention = quantizeDynamicInt8(graph, { activationMatMuls: true });
    const alternatives = [
      await alternative(
        `ONNX Runtime int8, attention too (${withAttention.provenance.quantizedMatMuls} MatMuls quantised, both sides of q·kᵀ and p·v uint8 per tensor)`,
        withAttention.graph,
        pixels,
        reference,
      ),
      await alternative(
        'ONNX Runtime MatMulNBits, 8-bit weights per block of 32, accuracy level 4 (int8 activations per block)',
        withMatMulNBits(graph, { bits: 8, block: 32, accuracyLevel: 4 }).graph,
        pixels,
        reference,
      ),
    ];
    // What the product runs where no patch tokens are read (features, predict, ViT heatmaps): the
    // last block for the CLS query alone. Another computation than the peer's, so only against ours.
    const lean = (precision: 'fp32' | 'int8') =>
      buildBackboneGraph(backbone, [224, 224], undefined, precision, { patchTokens: false }).graph;
    const clsOnly = {
      fp32: await alternative(
        'ONNX Runtime fp32, last block for CLS alone (no patch tokens)',
        lean('fp32'),
        pixels,
        reference,
      ),
      int8: await alternative(
        'ONNX Runtime int8, last block for CLS alone (no patch tokens)',
        lean('int8'),
        pixels,
        reference,
      ),
    };
    const share = await gemmShare(withPrecision(graph, 'int8').graph, pixels);
    return { ours, torch, alternatives, share, clsOnly };
  });
  await rm(dir, { recursive: true, force: true });
  const { ours, torch, alternatives, share, clsOnly } = result;
  const table = markdownTable(
    ['DINOv2 ViT-S/14, 224², batch 8, real images', `${THREADS} threads, slices/s`, 'CLS cosine to fp32'],
    [
      ['ONNX Runtime fp32 (emitted graph)', ours.fp32PerSecond, '1'],
      [
        `ONNX Runtime int8 (${ours.quantizedMatMuls} MatMuls quantised, ${ours.floatMatMuls} left float)`,
        ours.int8PerSecond,
        ours.cosine.toFixed(6),
      ],
      ...[...alternatives, clsOnly.fp32, clsOnly.int8].map((a) => [a.label, a.perSecond, a.cosine.toFixed(6)]),
      [`PyTorch ${torch.torch} fp32`, torch.slices_per_s, '—'],
    ],
  );
  const bound = ours.int8PerSecond / share.gemm / torch.slices_per_s;
  const section = await appendResults(
    {
      title: 'ViT-S/14 int8 versus fp32 (and PyTorch fp32)',
      command: `node bench/dist/vit-int8.js ${THREADS} ${ITERATIONS}`,
      table,
      ratios: [
        `int8 ÷ fp32 throughput = ${(ours.int8PerSecond / ours.fp32PerSecond).toFixed(2)}× (goal ≥ 2×)`,
        `int8 ÷ PyTorch fp32 = ${(ours.int8PerSecond / torch.slices_per_s).toFixed(2)}× (goal ≥ 4×)`,
        `cosine of the first output (CLS, [8, 384]) int8 vs fp32 = ${ours.cosine.toFixed(6)} (goal ≥ 0.999); max |Δ| ${ours.maxAbsDiff.toPrecision(3)}`,
        `last block for CLS alone ÷ the full graph, slices/s: fp32 ${(clsOnly.fp32.perSecond / ours.fp32PerSecond).toFixed(3)}×, int8 ${(clsOnly.int8.perSecond / ours.int8PerSecond).toFixed(3)}× (it skips 6.4 % of the multiply-adds)`,
        `int8 matrix products alone take ${(100 * share.gemm).toFixed(1)} % of an int8 run (ORT profiler; ${share.ops}): were everything else free, int8 ÷ PyTorch fp32 would be ${bound.toFixed(2)}×`,
      ],
      notes: [
        `Peer at its best (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed, OMP_WAIT_POLICY=PASSIVE, no-trim malloc): ${await peerKernel(THREADS)}.`,
        'Random weights at the real ViT-S sizes (no DINOv2 weights can be downloaded here): trained weights have activation outliers, so re-check accuracy on them.',
        'The two alternative rows are the same graph in other integer arithmetic (core quantizeDynamicInt8 {activationMatMuls}, bench/src/matmul-nbits.ts), timed after the peer in the same run.',
        'The CLS-alone rows are what features, predict and ViT heatmaps run (BuildOptions.patchTokens false); the peer computes every token, so the 4× goal is read on the full-graph int8 row only.',
      ],
    },
    load,
  );
  process.stdout.write(`${section}\n`);
}

await main();
