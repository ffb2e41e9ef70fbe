import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadFolder } from '@anymc3d/adapters/registry';
import { type Backbone, DEFAULT_LORA } from '@anymc3d/core/backbone';
import { initPluginWeights, type PluginSpec } from '@anymc3d/core/plugin';
import { randomTinyVitWeights, SYSTEM_PYTHON, TinyVit } from '@anymc3d/core/testing';
import { AdamW, type FeatureCase, featureGradient, LoraTrainer, type VolumeCase } from '@anymc3d/core/train';
import { Random } from '@anymc3d/core/util';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { matrixProductMs, opTimes } from './ort-profile.js';
import { peerEnv, peerKernel } from './peer.js';
import { writeRandomVit } from './random-vit.js';

/**
 * LoRA training step on a ViT-S/14 (random weights, 224², one case of 32 slices), plugin-only
 * step on cached tokens, and peak RSS of a 300-slice chunked step — against the PyTorch peer
 * (bench/python/train_step.py) in the same run.
 * Run: node bench/dist/train-step.js [threads] [repeats]
 */
const run = promisify(execFile);
const VIT_S = { dim: 384, depth: 12, heads: 6, mlp: 1536, patch: 14, image: 224 };
const SLICES = 32;
const spec: PluginSpec = { dim: 384, labels: ['finding'], kind: 'multilabel', loss: 'focal' };

function volume(slices: number, seed: number): VolumeCase {
  const r = new Random(seed);
  return {
    id: `v${seed}`,
    slices,
    labels: [1],
    pixels: Float32Array.from({ length: slices * 3 * 224 * 224 }, () => r.normal()),
  };
}

async function median(n: number, warm: number, fn: () => Promise<void>): Promise<number> {
  for (let k = 0; k < warm; k++) await fn();
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

async function loraStepTime(vit: Backbone, threads: number, repeats: number, chunk?: number): Promise<number> {
  const t = await LoraTrainer.create(vit, spec, {
    inputSize: [224, 224],
    lora: DEFAULT_LORA,
    plugin: initPluginWeights(spec, 0),
    threads,
    ...(chunk ? { chunk } : {}),
  });
  const c = volume(SLICES, 1);
  const opt = new AdamW();
  const group = (name: string) =>
    t.groups.get(name) === 'lora' ? { lr: 1e-4, weightDecay: 1e-5 } : { lr: 1e-3, weightDecay: 1e-4 };
  const s = await median(repeats, 1, async () => {
    const { grads } = await t.caseGradient(c, 1);
    opt.step(t.params, grads, group, 1);
  });
  await t.release();
  return s;
}

async function headStepTime(threads: number): Promise<number> {
  const r = new Random(2);
  const cases: FeatureCase[] = Array.from({ length: 8 }, (_, k) => ({
    id: `f${k}`,
    slices: SLICES,
    labels: [1],
    tokens: Float32Array.from({ length: SLICES * 384 }, () => r.normal()),
  }));
  const weights = initPluginWeights(spec, 0);
  const { session, gradient } = await featureGradient(spec, weights, cases, threads);
  const opt = new AdamW();
  const all = cases.map((_, k) => k);
  const s = await median(50, 5, async () => {
    const { grads } = await gradient(
      all,
      all.map(() => 1 / 8),
    );
    opt.step(weights, grads, () => ({ lr: 1e-3, weightDecay: 1e-4 }), 1);
  });
  await session.release();
  return s;
}

async function rssChild(slices: number, threads: number): Promise<void> {
  const vit = new TinyVit({ ...VIT_S, dtype: 'float32' }, randomTinyVitWeights(VIT_S, 0), 'vit_s14_random');
  const t = await LoraTrainer.create(vit, spec, {
    inputSize: [224, 224],
    lora: DEFAULT_LORA,
    plugin: initPluginWeights(spec, 0),
    threads,
    chunk: 8,
  });
  const t0 = performance.now();
  await t.caseGradient(volume(slices, 3), 1);
  process.stdout.write(
    JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 }),
  );
}

type Peer = { loraStep: number; headStep: number; maxRssMiB: number };

/**
 * One run of the PyTorch peer (bench/python/train_step.py) in its fair environment; `clsOnly`: its
 * last block for the CLS query alone, as the product's DINOv2 encoder runs it in training.
 */
async function runPeer(threads: number, repeats: number, clsOnly = false): Promise<Peer> {
  // The fair peer environment (bench/src/peer.ts), plus ATen's AVX-512 kernels (ORT-BACKWARD.md).
  const env = { ...peerEnv(threads), ATEN_CPU_CAPABILITY: 'avx512' };
  const script = fileURLToPath(new URL('../python/train_step.py', import.meta.url));
  const args = [script, String(SLICES), String(threads), String(repeats), ...(clsOnly ? ['cls-only'] : [])];
  return JSON.parse((await run(SYSTEM_PYTHON, args, { env, maxBuffer: 2 ** 20 })).stdout) as Peer;
}

/**
 * `--profile [threads] [steps]`: the same LoRA step with ORT's profiler on every session
 * (ANYMC3D_ORT_PROFILE), summed per op type — where a step's time goes (#20 P2).
 */
async function profileSteps(threads: number, steps: number): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'ort-profile-'));
  process.env.ANYMC3D_ORT_PROFILE = folder;
  try {
    const { result, load } = await measureLoad(async () => {
      // The peer around the subject, as in the timed bench, for the bound below.
      const before = await runPeer(threads, steps);
      const seconds = await loraStepTime(
        new TinyVit(VIT_S, randomTinyVitWeights(VIT_S, 0), 'vit_s14_random'),
        threads,
        steps,
      );
      const after = await runPeer(threads, steps);
      return { seconds, peerStep: (before.loraStep + after.loraStep) / 2, peerRuns: [before.loraStep, after.loraStep] };
    });
    const { seconds, peerStep, peerRuns } = result;
    const { ops, kernelMs, runsMs, warmupRunsMs, runs } = await opTimes(folder);
    const gemmStepMs = matrixProductMs(ops) / steps;
    const top = ops.slice(0, 15);
    const rest = ops.slice(15).reduce((n, o) => n + o.ms, 0);
    const rows = [
      ...top.map((o) => [o.op, o.calls, o.ms, `${((100 * o.ms) / kernelMs).toFixed(1)} %`]),
      [`(${ops.length - top.length} other op types)`, '', rest, `${((100 * rest) / kernelMs).toFixed(1)} %`],
    ];
    const table = markdownTable(['op type', 'kernel calls', 'ms (all sessions)', 'share of kernel time'], rows);
    process.stdout.write(`${table}\n`);
    await appendResults(
      {
        title: 'Training step profile: ViT-S/14 LoRA + plugin, time per ONNX op type (ORT profiler)',
        command: `node bench/dist/train-step.js --profile ${threads} ${steps}`,
        table,
        ratios: [
          `kernel time ${kernelMs.toFixed(0)} ms of ${runsMs.toFixed(0)} ms in ${runs} session runs after each session's first (the rest: ORT's own scheduling and copies); the first runs (warm-up, first touch of ORT's arena) took ${warmupRunsMs.toFixed(0)} ms and are left out; median step ${seconds.toFixed(2)} s with the profiler on`,
          `matrix products (MatMul, FusedMatMul, Gemm) alone take ${(gemmStepMs / 1000).toFixed(2)} s per step, ${(gemmStepMs / 1000 / peerStep).toFixed(2)}× the PyTorch step (${peerStep.toFixed(2)} s, runs before / after: ${peerRuns.map((x) => x.toFixed(2)).join(' / ')} s): were everything else free, the LoRA step ratio would be that (goal ≤ 0.6)`,
        ],
        notes: [
          `${SLICES} slices at 224², random weights, ${threads} thread(s); a warm-up step and ${steps} measured steps, all profiled (forward, head, VJP and recompute sessions together); the table sums the measured steps only.`,
          `PyTorch peer at its best: ${await peerKernel(threads)}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed, OMP_WAIT_POLICY=PASSIVE, no-trim malloc, ATEN_CPU_CAPABILITY=avx512 (ORT-BACKWARD.md).`,
        ],
      },
      load,
    );
  } finally {
    delete process.env.ANYMC3D_ORT_PROFILE;
    await rm(folder, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--rss') return rssChild(Number(process.argv[3]), Number(process.argv[4]));
  if (process.argv[2] === '--profile') return profileSteps(Number(process.argv[3] ?? 2), Number(process.argv[4] ?? 3));
  const threads = Number(process.argv[2] ?? 2);
  const repeats = Number(process.argv[3] ?? 3);
  const withRss = !process.argv.includes('--no-rss');
  const { result, load } = await measureLoad(async () => {
    const peerConfig = await peerKernel(threads);
    // The peer runs before and after the subject so a drifting co-tenant load hits both sides alike.
    const before = await runPeer(threads, repeats);
    const vit = new TinyVit(VIT_S, randomTinyVitWeights(VIT_S, 0), 'vit_s14_random');
    const oneShot = await loraStepTime(vit, threads, repeats);
    const chunked = await loraStepTime(vit, threads, repeats, 8);
    const head = await headStepTime(threads);
    const after = await runPeer(threads, repeats);
    // The product's own encoder as `anymc3d train` runs it (no patch tokens needed: the last block
    // for the CLS query alone), against the peer doing the same, again before and after.
    const dir = await mkdtemp(join(tmpdir(), 'train-step-vit-'));
    await writeRandomVit(dir, 'S');
    const clsBefore = await runPeer(threads, repeats, true);
    const product = await loraStepTime(await loadFolder(dir), threads, repeats);
    const clsAfter = await runPeer(threads, repeats, true);
    await rm(dir, { recursive: true, force: true });
    const peerCls = {
      step: (clsBefore.loraStep + clsAfter.loraStep) / 2,
      runs: [clsBefore.loraStep, clsAfter.loraStep],
    };
    const peer: Peer = {
      loraStep: (before.loraStep + after.loraStep) / 2,
      headStep: (before.headStep + after.headStep) / 2,
      maxRssMiB: Math.max(before.maxRssMiB, after.maxRssMiB),
    };
    const self = fileURLToPath(import.meta.url);
    type Rss = { seconds: number; maxRssMiB: number };
    const rss = withRss
      ? (JSON.parse(
          (await run(process.execPath, [self, '--rss', '300', String(threads)], { maxBuffer: 2 ** 20 })).stdout,
        ) as Rss)
      : undefined;
    return {
      oneShot,
      chunked,
      head,
      rss,
      peer,
      peerConfig,
      peerRuns: [before.loraStep, after.loraStep],
      product,
      peerCls,
    };
  });
  const { oneShot, chunked, head, rss, peer, peerRuns, product, peerCls } = result;
  const table = markdownTable(
    ['measure', 'anymc3d (ORT)', 'PyTorch', 'ratio'],
    [
      [`LoRA step, ${SLICES} slices, one graph (s)`, oneShot, peer.loraStep, oneShot / peer.loraStep],
      [`LoRA step, ${SLICES} slices, chunked recompute of 8 (s)`, chunked, peer.loraStep, chunked / peer.loraStep],
      [
        `LoRA step, ${SLICES} slices, one graph, the product's DINOv2 encoder with its last block for CLS alone; the peer likewise (s)`,
        product,
        peerCls.step,
        product / peerCls.step,
      ],
      ['plugin-only step, 8 cases × 32 cached tokens (ms)', head * 1000, peer.headStep * 1000, head / peer.headStep],
      ...(rss ? [['peak RSS, 300-slice chunked step (MiB)', rss.maxRssMiB, '—', '—']] : []),
      [`peak RSS, PyTorch process incl. ${SLICES}-slice step (MiB)`, '—', peer.maxRssMiB, '—'],
    ],
  );
  const section = await appendResults(
    {
      title: 'Training step: ViT-S/14 LoRA + plugin vs PyTorch',
      command: `node bench/dist/train-step.js ${threads} ${repeats}${withRss ? '' : ' --no-rss'}`,
      table,
      ratios: [
        `LoRA step ORT ÷ PyTorch = ${(oneShot / peer.loraStep).toFixed(2)} (goal ≤ 0.6, #20 P2)`,
        `plugin-only step ORT ÷ PyTorch = ${(head / peer.headStep).toFixed(2)} (goal ≤ 1.0)`,
        ...(rss
          ? [
              `300-slice chunked step peak RSS ${(rss.maxRssMiB / 1024).toFixed(2)} GiB (goal ≤ 4 GiB), ${rss.seconds.toFixed(1)} s`,
            ]
          : []),
      ],
      notes: [
        `${threads} threads each side; medians of ${repeats} steps after 1 warm-up (plugin-only: 50 after 5). Random weights, batch 1.`,
        `PyTorch LoRA step before / after the subject: ${peerRuns.map((x) => x.toFixed(2)).join(' / ')} s, with the CLS-only last block ${peerCls.runs.map((x) => x.toFixed(2)).join(' / ')} s (the table shows their means).`,
        `Rows 1–2 run the test ViT (core/testing TinyVit, every token through every block), the same computation as the peer's; row 3 is what \`anymc3d train\` runs without the auxiliary decoder (adapters' DINOv2 encoder, bench/src/random-vit.ts). The CLS-only last block is exact (adapters cls-only.test.ts); by count it skips 390 of the last block's 506 M multiply-adds per slice, 6.4 % of a ViT-S/14 forward, on each side.`,
        `PyTorch peer at its best: ${result.peerConfig}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed, OMP_WAIT_POLICY=PASSIVE, no-trim malloc, ATEN_CPU_CAPABILITY=avx512 (ORT-BACKWARD.md).`,
      ],
    },
    load,
  );
  process.stdout.write(`${section}\n`);
}

await main();
