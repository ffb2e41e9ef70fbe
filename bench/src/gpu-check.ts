/**
 * The GPU check, prepared for a machine with a GPU (none is at hand where this was written): for
 * each accelerator this onnxruntime-node build offers (cuda when its provider is installed, webgpu
 * always bundled), the frozen ViT-S/14 forward (random weights, 224², batch 8) against the CPU —
 * parity (max relative error, goal ≤ 1e-3) and slices/s — and one LoRA training step's time and
 * loss against the CPU's. One JSON line per device; a device that cannot start says why.
 *
 *   node bench/dist/gpu-check.js        (bench/gpu-check.sh wraps it with the machine's facts)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFolder } from '@anymc3d/adapters/registry';
import { BackboneEmbedder, DEFAULT_LORA } from '@anymc3d/core/backbone';
import { availableDevices, type Device } from '@anymc3d/core/graph';
import { initPluginWeights, type PluginSpec } from '@anymc3d/core/plugin';
import { maxRelativeError } from '@anymc3d/core/testing';
import { LoraTrainer } from '@anymc3d/core/train';
import { Random } from '@anymc3d/core/util';
import { writeRandomVit } from './random-vit.js';

const BATCH = 8;
const SIZE = 224;
const REPS = 5;

const dir = await mkdtemp(join(tmpdir(), 'gpu-check-'));
try {
  await writeRandomVit(join(dir, 'vits'), 'S', SIZE);
  const backbone = await loadFolder(join(dir, 'vits'));
  const r = new Random(1);
  const pixels = {
    dtype: 'float32' as const,
    dims: [BATCH, 3, SIZE, SIZE],
    data: Float32Array.from({ length: BATCH * 3 * SIZE * SIZE }, () => r.normal()),
  };
  const forward = async (device: Device) => {
    const e = new BackboneEmbedder(backbone, { device, batchSize: BATCH });
    try {
      const first = await e.embed(pixels);
      const started = performance.now();
      for (let k = 0; k < REPS; k++) await e.embed(pixels);
      return { cls: first.cls.data as Float32Array, perSecond: (BATCH * REPS * 1000) / (performance.now() - started) };
    } finally {
      await e.release();
    }
  };
  const spec: PluginSpec = { dim: 384, labels: ['finding'], kind: 'multilabel', loss: 'bce' };
  const loraStep = async (device: Device) => {
    const trainer = await LoraTrainer.create(backbone, spec, {
      inputSize: [SIZE, SIZE],
      lora: { ...DEFAULT_LORA, seed: 0 },
      plugin: initPluginWeights(spec, 0),
      device,
    });
    try {
      const c = {
        id: 'c',
        slices: 16,
        pixels: Float32Array.from({ length: 16 * 3 * SIZE * SIZE }, () => r.normal()),
        labels: [1],
      };
      await trainer.caseGradient(c, 1);
      const started = performance.now();
      const { loss } = await trainer.caseGradient(c, 1);
      return { loss, seconds: (performance.now() - started) / 1000 };
    } finally {
      await trainer.release();
    }
  };
  const cpu = await forward('cpu');
  const cpuStep = await loraStep('cpu');
  process.stdout.write(
    `${JSON.stringify({ device: 'cpu', slicesPerSecond: cpu.perSecond, loraStepSeconds: cpuStep.seconds, loss: cpuStep.loss })}\n`,
  );
  for (const device of (['cuda', 'webgpu'] as const).filter((d) => availableDevices().includes(d))) {
    try {
      const gpu = await forward(device);
      const step = await loraStep(device).catch((error: Error) => ({ error: error.message.split('\n')[0] }));
      process.stdout.write(
        `${JSON.stringify({
          device,
          clsMaxRelativeError: maxRelativeError(gpu.cls, cpu.cls),
          parityOk: maxRelativeError(gpu.cls, cpu.cls) <= 1e-3,
          slicesPerSecond: gpu.perSecond,
          speedupOverCpu: gpu.perSecond / cpu.perSecond,
          loraStep: step,
        })}\n`,
      );
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ device, unavailable: (error as Error).message.split('\n')[0] })}\n`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
