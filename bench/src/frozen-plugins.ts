import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import { embedVolume, type ViewInput } from '@anymc3d/core/pipeline';
import { loadPlugin } from '@anymc3d/core/plugin';
import { trainPlugin } from '@anymc3d/core/train';
import { type Volume, writeVolume } from '@anymc3d/core/volume';
import { EngineAnalyzer } from '@anymc3d/heatmap-server';
import { appendResults, markdownTable, measureLoad, median } from './harness.js';

/**
 * What the k-th frozen-backbone task costs the heatmap server: every frozen plugin of a case
 * shares one backbone pass, so a further task should cost only its pooling + head (goal ≤ 2 % of
 * one backbone pass). Also reports the per-plugin heatmap cost (CAM per label, mapped to the
 * input grid, written as NIfTI), which the server pays on top.
 * Run: node bench/dist/frozen-plugins.js [k=5] [size=224]
 */
const K = Number(process.argv[2] ?? 5);
const SIZE = Number(process.argv[3] ?? 224);
const REPS = 3;

function volume(): Volume {
  const n = 64;
  const data = new Int16Array(n * n * 48);
  for (let k = 0; k < 48; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const r = Math.hypot(i - 32, j - 30, (k - 24) * 1.3);
        data[i + n * (j + n * k)] = r < 22 ? 40 + ((i * 7 + j * 3 + k) % 60) : -1000;
      }
  return {
    data,
    size: [n, n, 48],
    spacing: [0.8, 0.8, 2],
    origin: [0, 0, 0],
    direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'frozen-plugins-'));
  const backbone = await resolveBackbone('mobilenet_v1_224');
  const d = backbone.card.embedDim;
  const plugins: string[] = [];
  for (let p = 0; p < K; p++) {
    const features = [0, 1, 2, 3].map((c) => ({
      id: `c${c}`,
      slices: 4,
      tokens: Float32Array.from({ length: 4 * d }, (_, i) => Math.sin(i * (c + 1) + p)),
      labels: [c % 2, (c + p) % 2],
    }));
    const outDir = join(root, `task${p}`);
    await trainPlugin({
      source: { features, backbone: { name: backbone.card.name, weightHash: backbone.weightHash } },
      task: {
        task: `task${p}`,
        kind: 'multilabel',
        labels: ['a', 'b'],
        views: ['axial'],
        axis: 'axial',
        windows: [[-160, 240]],
        inputSize: [SIZE, SIZE],
      },
      outDir,
      options: { steps: 1, batchSize: 2, warmup: 0, seed: p },
    });
    plugins.push(outDir);
  }
  const volumePath = join(root, 'case.nii.gz');
  await writeVolume(volume(), volumePath);

  const { result, load } = await measureLoad(async () => {
    // Components measured directly: one backbone pass, one plugin head on its tokens.
    const embedder = new BackboneEmbedder(backbone, { threads: 2, batchSize: 16 });
    const view: ViewInput = {
      name: 'axial',
      axis: 'axial',
      size: [SIZE, SIZE],
      channels: { windows: [[-160, 240]] },
      mean: backbone.card.mean,
      std: backbone.card.std,
    };
    const v = volume();
    await embedVolume(v, view, embedder);
    const passTimes: number[] = [];
    let tokens: Float32Array = new Float32Array();
    let S = 0;
    for (let r = 0; r < REPS; r++) {
      const t = performance.now();
      const e = await embedVolume(v, view, embedder);
      passTimes.push(performance.now() - t);
      tokens = e.cls.data as Float32Array;
      S = e.cls.dims[0]!;
    }
    const head = await loadPlugin(plugins[0]!, backbone, { threads: 2 });
    await head.predictTokens(tokens, S);
    const headTimes: number[] = [];
    for (let r = 0; r < 20; r++) {
      const t = performance.now();
      await head.predictTokens(tokens, S);
      headTimes.push(performance.now() - t);
    }
    await head.release();
    await embedder.release();
    // Whole analyses through the server's engine: 1 plugin versus K plugins per case.
    const analyzer = await EngineAnalyzer.create({ backbone: 'mobilenet_v1_224', plugins, threads: 2 });
    const ids = analyzer.plugins.map((p) => p.id);
    const run = async (n: number) => {
      const outDir = join(root, `out-${n}-${Math.random().toString(36).slice(2)}`);
      await mkdir(outDir);
      const t = performance.now();
      await analyzer.analyze({
        volumePath,
        format: 'nifti',
        pluginIds: ids.slice(0, n),
        outDir,
        onProgress: () => {},
        signal: new AbortController().signal,
      });
      return performance.now() - t;
    };
    await run(1);
    const one: number[] = [];
    const many: number[] = [];
    for (let r = 0; r < REPS; r++) {
      one.push(await run(1));
      many.push(await run(K));
    }
    await analyzer.close();
    return { pass: median(passTimes), head: median(headTimes), one: median(one), many: median(many), slices: S };
  });
  await rm(root, { recursive: true, force: true });
  const perExtra = (result.many - result.one) / (K - 1);
  const table = markdownTable(
    ['measure (MobileNet v1, 64×64×48 CT-like volume, axial, input ' + `${SIZE}²)`, 'ms'],
    [
      [`one frozen backbone pass (${result.slices} slices)`, result.pass],
      ['one plugin head on the cached tokens (pooling + head)', result.head],
      ['server analysis, 1 plugin (read, pass, head, heatmaps, write)', result.one],
      [`server analysis, ${K} plugins sharing the pass`, result.many],
      ['each further plugin in the server (head + its heatmaps)', perExtra],
    ],
  );
  const section = await appendResults(
    {
      title: 'Frozen-backbone plugins sharing one pass (heatmap server engine)',
      command: `node bench/dist/frozen-plugins.js ${K} ${SIZE}`,
      table,
      ratios: [
        `plugin head ÷ backbone pass = ${((100 * result.head) / result.pass).toFixed(2)} % (goal ≤ 2 %)`,
        `each further plugin in the server, heatmaps included ÷ backbone pass = ${((100 * perExtra) / result.pass).toFixed(1)} %`,
      ],
    },
    load,
  );
  process.stdout.write(`${section}\n`);
}

await main();
