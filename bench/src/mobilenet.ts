import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadMobileNet } from '@anymc3d/adapters';
import { GraphBuilder, OnnxSession, tensor, toOnnx } from '@anymc3d/core/graph';
import { cosine } from '@anymc3d/core/testing';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { int8VersusFp32, timeRuns, VIT_S, vitLikeInput, vitLikeStack } from './int8-versus-fp32.js';

/**
 * MobileNet v1 (224², frozen, float rebuild of the TFLite file) on ONNX Runtime vs the same
 * network in PyTorch, and the int8 pass vs fp32 on a ViT-S-shaped encoder, in one run.
 * Usage: node bench/dist/mobilenet.js [--threads 2] [--batch 8] [--iterations 5] [--no-write]
 */

const run = promisify(execFile);
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const threads = flag('threads', 2);
const batch = flag('batch', 8);
const iterations = flag('iterations', 5);
const vitBatch = flag('vit-batch', 4);
const write = !args.includes('--no-write');
const PEER = fileURLToPath(new URL('../python/mobilenet_torch.py', import.meta.url));

async function mobilenet() {
  const v1 = await loadMobileNet('mobilenet_v1_224');
  const g = new GraphBuilder('mobilenet_v1');
  const pixels = g.input('pixels', 'float32', ['N', 3, 224, 224]);
  g.output(v1.build(g, pixels, { inputSize: [224, 224] }).cls, 'cls');
  const r = (() => {
    let s = 3;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return (s / 2 ** 32) * 2 - 1;
    };
  })();
  const x = tensor('float32', [batch, 3, 224, 224], Float32Array.from({ length: batch * 3 * 224 * 224 }, r));
  const session = await OnnxSession.create(toOnnx(g.build()), { threads });
  const ort = await timeRuns(session, { pixels: x }, iterations);
  await session.release();
  const dir = await mkdtemp(join(tmpdir(), 'bench-mobilenet-'));
  try {
    const input = join(dir, 'x.f32');
    const output = join(dir, 'y.f32');
    await writeFile(input, new Uint8Array((x.data as Float32Array).buffer));
    // PyTorch gets its better thread setting (1 or `threads`): on a shared machine its
    // multi-threaded convolutions can lose to one thread (DEPENDENCIES.md, co-tenant effect).
    let best = { perSecond: 0, threads: 1 };
    for (const t of threads > 1 ? [1, threads] : [1]) {
      const env = { ...process.env, OMP_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t) };
      const { stdout } = await run(
        '/usr/bin/python3',
        [PEER, v1.source, input, String(batch), '224', String(t), String(iterations), output],
        { timeout: 600_000, env },
      );
      const seconds = (JSON.parse(stdout.trim().split('\n').pop()!) as { seconds: number[] }).seconds.sort(
        (a, b) => a - b,
      );
      const perSecond = batch / seconds[Math.floor(seconds.length / 2)]!;
      if (perSecond > best.perSecond) best = { perSecond, threads: t };
    }
    const peerOut = new Float32Array((await readFile(output)).buffer.slice(0));
    return {
      ortPerSecond: batch / ort.median,
      torchPerSecond: best.perSecond,
      torchThreads: best.threads,
      agreement: cosine(ort.first.cls!.data as Float32Array, peerOut),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const { result, load } = await measureLoad(async () => {
  const mn = await mobilenet();
  const vit = await int8VersusFp32(
    'ViT-S-shaped encoder (random weights)',
    vitLikeStack(VIT_S),
    { tokens: vitLikeInput(vitBatch) },
    vitBatch,
    {
      threads,
      iterations: Math.max(3, Math.ceil(iterations / 2)),
    },
  );
  return { mn, vit };
});
const { mn, vit } = result;
const table = markdownTable(
  ['subject', 'peer', 'subject /s', 'peer /s', 'ratio', 'output agreement (cosine)'],
  [
    [
      `MobileNet v1 224², ORT fp32, batch ${batch}`,
      `PyTorch 1.13, same float network, ${mn.torchThreads} thread(s)`,
      mn.ortPerSecond,
      mn.torchPerSecond,
      mn.ortPerSecond / mn.torchPerSecond,
      mn.agreement.toFixed(7),
    ],
    [
      `${vit.label}, ORT int8 (${vit.quantizedMatMuls} MatMuls int8, ${vit.floatMatMuls} float), batch ${vitBatch}`,
      'same graph, ORT fp32',
      vit.int8PerSecond,
      vit.fp32PerSecond,
      vit.int8PerSecond / vit.fp32PerSecond,
      vit.cosine.toFixed(6),
    ],
  ],
);
const report = {
  title: 'MobileNet v1 slices/s and int8 vs fp32',
  command: `node bench/dist/mobilenet.js --threads ${threads} --batch ${batch} --iterations ${iterations} --vit-batch ${vitBatch}`,
  table,
  ratios: [
    `MobileNet v1 ORT / PyTorch: ${(mn.ortPerSecond / mn.torchPerSecond).toFixed(2)}× (ORT ${threads} threads, PyTorch its better of 1/${threads}: ${mn.torchThreads}; slices/s, median of ${iterations})`,
    `int8 / fp32 on the ViT-S-shaped encoder: ${(vit.int8PerSecond / vit.fp32PerSecond).toFixed(2)}× (goal ≥ 2×), output cosine ${vit.cosine.toFixed(6)} (goal ≥ 0.999), max |Δ| ${vit.maxAbsDiff.toPrecision(3)}`,
  ],
  notes: [
    "The peer is Debian's python3-torch 1.13 (generic BLAS); its CPU depthwise convolutions are slow, which dominates MobileNet there.",
    'MobileNet convolutions stay fp32 under the int8 pass (it rewrites weight MatMuls only); slices/s are items per second of the frozen backbone.',
    'Random ViT weights lack the activation outliers of trained DINOv2; re-check int8 accuracy on the real ViT-S (pass its graph to int8VersusFp32).',
  ],
};
console.log(`${table}\n\n${report.ratios.join('\n')}`);
if (write) await appendResults(report, load);
