import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import type { Precision } from '@anymc3d/core/graph';
import { embedVolume } from '@anymc3d/core/pipeline';
import { loadPlugin, pluginBackbone } from '@anymc3d/core/plugin';
import { pluginTaskOf } from '@anymc3d/core/task';
import { redisServerAvailable, startRedis } from '@anymc3d/core/testing';
import { trainPlugin } from '@anymc3d/core/train';
import { mriNormalize, readVolume, type Volume, writeVolume } from '@anymc3d/core/volume';
import { describe, expect, it } from 'vitest';
import { startAnalysisWorker } from './analysis-worker.js';
import { EngineAnalyzer } from './engine-analyzer.js';
import { RedisAnalyzer } from './redis-analyzer.js';
import { analyzeVolume, writeEngineCase } from './testing/engine-case.js';
import { servedVolume } from './testing/served-volume.js';

async function tinyPlugin(
  root: string,
  backboneDir: string,
  task: string,
  seed: number,
  precision: Precision = 'fp32',
): Promise<string> {
  const backbone = await resolveBackbone(backboneDir);
  const dim = backbone.card.embedDim;
  const features = [0, 1, 2, 3].map((k) => ({
    id: `c${k}`,
    slices: 3,
    tokens: Float32Array.from({ length: 3 * dim }, (_, i) => Math.sin(i * (k + 1) + seed)),
    labels: [k % 2],
  }));
  const outDir = join(root, task);
  await trainPlugin({
    source: { features, backbone: pluginBackbone(backbone, precision) },
    task: {
      task,
      kind: 'multilabel',
      labels: ['blob'],
      views: ['axial'],
      axis: 'axial',
      windows: [[0, 256]],
      inputSize: [16, 16],
    },
    outDir,
    options: { steps: 2, batchSize: 2, warmup: 0, seed },
    threads: 1,
  });
  return outDir;
}

/** A small CT-like case written under `root`, analysed by the given plugins into `root`/out. */
async function analyzeCase(analyzer: EngineAnalyzer, root: string, pluginIds: string[]) {
  const volumePath = join(root, 'case.nii.gz');
  await writeEngineCase(volumePath);
  return analyzeVolume(analyzer, volumePath, pluginIds, join(root, 'out'));
}

describe('EngineAnalyzer (the real predict path behind the server)', () => {
  it('predicts, writes heatmaps on the input grid, and shares one backbone pass among frozen plugins', async () => {
    const root = await mkdtemp(join(tmpdir(), 'engine-'));
    const backboneDir = join(root, 'backbone');
    await writeTinyDinov2(backboneDir);
    const a = await tinyPlugin(root, backboneDir, 'task-a', 1);
    const b = await tinyPlugin(root, backboneDir, 'task-b', 2);
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [a, b], threads: 1 });
    expect(analyzer.plugins.map((p) => p.id)).toEqual(['task-a', 'task-b']);
    expect(analyzer.plugins.every((p) => p.frozenBackbone)).toBe(true);

    const result = await analyzeCase(analyzer, root, ['task-a', 'task-b']);
    expect(analyzer.backbonePasses).toBe(1);
    for (const id of ['task-a', 'task-b']) {
      const p = result.predictions[id]!.blob!;
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
    const image = await servedVolume(result.imagePath);
    const heatPath = result.heatmaps['task-a']!.blob!;
    const heat = await servedVolume(heatPath);
    expect(heat.size).toEqual(image.size);
    for (const [k, v] of heat.affine.entries()) expect(v).toBeCloseTo(image.affine[k]!, 6);
    expect(Math.max(...heat.data)).toBeCloseTo(1, 2);
    await analyzer.close();
  });

  it("computes an int8-trained plugin's tokens in int8, in a backbone pass of their own", async () => {
    const root = await mkdtemp(join(tmpdir(), 'engine-'));
    const backboneDir = join(root, 'backbone');
    await writeTinyDinov2(backboneDir);
    // The same head (same seed, same training tokens); only the card's precision differs.
    const fp32 = await tinyPlugin(root, backboneDir, 'task-a', 1);
    const int8 = await tinyPlugin(root, backboneDir, 'task-q', 1, 'int8');
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [fp32, int8], threads: 1 });
    const result = await analyzeCase(analyzer, root, ['task-a', 'task-q']);
    await analyzer.close();
    expect(analyzer.backbonePasses).toBe(2);
    const gap = Math.abs(result.predictions['task-a']!.blob! - result.predictions['task-q']!.blob!);
    expect(gap).toBeGreaterThan(0); // another arithmetic really ran
    expect(gap).toBeLessThan(0.05);
  });

  it('feeds an MRI plugin the z-scored slices on its own axis it was trained on: the probability predict gives', async () => {
    const root = await mkdtemp(join(tmpdir(), 'engine-'));
    const backboneDir = join(root, 'backbone');
    await writeTinyDinov2(backboneDir);
    const backbone = await resolveBackbone(backboneDir);
    const dim = backbone.card.embedDim;
    const pluginDir = join(root, 'mri');
    await trainPlugin({
      source: {
        features: [0, 1, 2, 3].map((k) => ({
          id: `c${k}`,
          slices: 3,
          tokens: Float32Array.from({ length: 3 * dim }, (_, i) => Math.sin(i * (k + 1))),
          labels: [k % 2],
        })),
        backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
      },
      // As `anymc3d train` gives it from an MRI task card: the view "t2" is coronal.
      task: pluginTaskOf(
        {
          id: 'mri',
          description: 'generated',
          kind: 'binary',
          labels: ['lesion'],
          views: [{ name: 't2', axis: 'coronal' }],
          normalisation: { method: 'percentile', range: [1, 99] },
          inputSize: { height: 16, width: 16, slices: 6 },
          metric: 'auroc',
          data: { source: 'generated', licence: 'CC0-1.0' },
        },
        [16, 16],
      ),
      outDir: pluginDir,
      options: { steps: 2, batchSize: 2, warmup: 0, seed: 4 },
      threads: 1,
    });
    const volumePath = join(root, 'mri.nii.gz');
    const volume: Volume = {
      data: Int16Array.from({ length: 20 * 18 * 6 }, (_, i) => 300 + ((i * 37) % 900)),
      size: [20, 18, 6],
      spacing: [0.8, 0.9, 2.5],
      origin: [0, 0, 0],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    };
    await writeVolume(volume, volumePath);

    // What `predict` feeds the plugin, written out: percentile clip + z-score, then ±3 → [0, 1] replicated, coronal.
    const normalised = mriNormalize((await readVolume(volumePath)).volume, { lower: 1, upper: 99 }).volume;
    const embedder = new BackboneEmbedder(backbone, { threads: 1 });
    const plugin = await loadPlugin(pluginDir, backbone, { threads: 1 });
    const view = {
      name: 't2',
      axis: 'coronal' as const,
      size: [16, 16] as [number, number],
      channels: { replicate: true as const, range: [-3, 3] as [number, number] },
      mean: backbone.card.mean,
      std: backbone.card.std,
    };
    const pass = await embedVolume(normalised, view, embedder);
    const expected = (await plugin.predictTokens(pass.cls.data as Float32Array, pass.cls.dims[0]!)).probabilities[0]!;
    await plugin.release();
    await embedder.release();

    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [pluginDir], threads: 1 });
    const result = await analyzeVolume(analyzer, volumePath, ['mri'], join(root, 'out'));
    await analyzer.close();
    expect(result.predictions.mri!.lesion).toBeCloseTo(expected, 5);
  });

  it('refuses a plugin trained on another backbone', async () => {
    const root = await mkdtemp(join(tmpdir(), 'engine-'));
    await writeTinyDinov2(join(root, 'b1'), { seed: 1 });
    await writeTinyDinov2(join(root, 'b2'), { seed: 2 });
    const plugin = await tinyPlugin(root, join(root, 'b2'), 'other', 3);
    await expect(EngineAnalyzer.create({ backbone: join(root, 'b1'), plugins: [plugin], threads: 1 })).rejects.toThrow(
      /hash|backbone/i,
    );
  });

  it.runIf(redisServerAvailable())(
    'with --redis, an analysis worker runs the case: the same predictions and heatmap as the engine in-process',
    async () => {
      const redis = await startRedis();
      const root = await mkdtemp(join(tmpdir(), 'engine-redis-'));
      try {
        const backboneDir = join(root, 'backbone');
        await writeTinyDinov2(backboneDir);
        const a = await tinyPlugin(root, backboneDir, 'task-a', 1);
        const b = await tinyPlugin(join(root, 'second'), backboneDir, 'task-a', 2); // one task twice: ids task-a, task-a-2
        const volumePath = join(root, 'case.nii.gz');
        await writeEngineCase(volumePath, 29);
        const request = (outDir: string, progress: string[] = []) => ({
          volumePath,
          format: 'nifti' as const,
          pluginIds: ['task-a', 'task-a-2'],
          outDir,
          caseName: 'case',
          onProgress: (p: { stage: string }) => progress.push(p.stage),
          signal: new AbortController().signal,
        });
        const local = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [a, b], threads: 1 });
        await mkdir(join(root, 'local'));
        const want = await local.analyze(request(join(root, 'local')));
        await local.close();

        const lines: string[] = [];
        const worker = await startAnalysisWorker({ url: redis.url, threads: 1, log: (l) => lines.push(l) });
        const remote = await RedisAnalyzer.create({ url: redis.url, backbone: backboneDir, plugins: [a, b] });
        expect(remote.plugins.map((p) => p.id)).toEqual(['task-a', 'task-a-2']);
        await mkdir(join(root, 'remote'));
        const stages: string[] = [];
        const got = await remote.analyze(request(join(root, 'remote'), stages));
        expect(lines).toContain('analysis case: done');
        expect(stages).toContain('heatmaps'); // progress relayed from the worker's job
        for (const id of ['task-a', 'task-a-2'])
          expect(Math.abs(got.predictions[id]!.blob! - want.predictions[id]!.blob!)).toBeLessThanOrEqual(1e-6);
        const [h1, h2] = [
          await servedVolume(want.heatmaps['task-a']!.blob!),
          await servedVolume(got.heatmaps['task-a']!.blob!),
        ];
        expect(Array.from(h2.data)).toEqual(Array.from(h1.data));
        // Asked again (a server restarted mid-analysis re-queues its job): the finished result, not a second run.
        await remote.analyze(request(join(root, 'remote')));
        expect(lines.filter((l) => l === 'analysis case: done')).toHaveLength(1);
        // A case that failed (its file not there yet) is run anew when asked again, not answered with the failure.
        const late = join(root, 'late.nii.gz');
        await mkdir(join(root, 'late'));
        const lateRequest = { ...request(join(root, 'late')), volumePath: late };
        await expect(remote.analyze(lateRequest)).rejects.toThrow(/late\.nii\.gz/);
        await copyFile(volumePath, late);
        const again = await remote.analyze(lateRequest);
        expect(Math.abs(again.predictions['task-a']!.blob! - want.predictions['task-a']!.blob!)).toBeLessThanOrEqual(
          1e-6,
        );
        await remote.close();
        await worker.close();
      } finally {
        await redis.stop();
      }
    },
    60_000,
  );
});
