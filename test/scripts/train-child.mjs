// A training run in its own process, for the kill-and-resume test: prints each finished step.
import { trainPlugin } from '@anymc3d/core/train';

const [outDir, steps] = process.argv.slice(2);
const dim = 16;
const features = Array.from({ length: 8 }, (_, c) => ({
  id: `case${c}`,
  slices: 5,
  tokens: Float32Array.from({ length: 5 * dim }, (_, i) => Math.sin(0.37 * i + c) + (c % 2) * 0.5),
  labels: [c % 2],
}));
await trainPlugin({
  source: { features, backbone: { name: 'test', weightHash: '0'.repeat(64) } },
  task: {
    task: 'kill-resume',
    kind: 'multilabel',
    labels: ['positive'],
    views: ['axial'],
    axis: 'axial',
    windows: [[-1, 1]],
    inputSize: [16, 16],
  },
  outDir,
  options: { steps: Number(steps), batchSize: 2, warmup: 5, seed: 7 },
  checkpointEvery: 1,
  threads: 1,
  onProgress: (p) => process.stdout.write(`step ${p.step}\n`),
});
process.stdout.write('done\n');
