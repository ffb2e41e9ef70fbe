import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBackbone } from '@anymc3d/adapters';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { caseHeatmaps } from '@anymc3d/core/heatmap';
import {
  initPluginWeights,
  inputViews,
  loadPlugin,
  type PluginCard,
  pluginInput,
  prepareVolume,
  readPlugin,
  savePlugin,
} from '@anymc3d/core/plugin';
import { testPluginCard } from '@anymc3d/core/testing';
import { readVolume, sliceBatches, writeVolume } from '@anymc3d/core/volume';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from './analyzer.js';
import { configFromEnv } from './config.js';
import { EngineAnalyzer } from './engine-analyzer.js';
import { createServer } from './server.js';
import { ADMIN, auth, REVIEWER, waitForCase } from './test-server.test-helpers.js';
import { analyzeVolume } from './testing/engine-case.js';
import { servedVolume } from './testing/served-volume.js';

// The server's maps must be `anymc3d heatmap`'s (core caseHeatmaps on the volume prepared as the
// plugin was trained) for every plugin, frozen or LoRA, up to the uint8 encoding the viewer reads.
// The served map is caseHeatmaps' float32 map as core's one NIfTI writer stores a heatmap: 16-bit
// codes with scl_slope 1/65535, so read back it is within half a code of the float map.
const SAME = 0.5 / 65535 + 1e-9;

let root: string;
let volumePath: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'engine-heat-'));
  volumePath = join(root, 'case.nii.gz');
  await writeVolume(
    {
      data: Int16Array.from({ length: 20 * 18 * 6 }, (_, i) => ((i * 37) % 900) - 300),
      size: [20, 18, 6],
      spacing: [0.8, 0.9, 2.5],
      origin: [10, -5, 3],
      direction: new Float64Array([0, 1, 0, -1, 0, 0, 0, 0, 1]),
    },
    volumePath,
  );
});
afterAll(() => rm(root, { recursive: true, force: true }));

function card(
  backbone: { card: { name: string }; weightHash: string },
  task: string,
  labels: string[],
  size: number,
  lora: PluginCard['lora'],
): PluginCard {
  return testPluginCard({
    task,
    labels,
    windows: [[-400, 600]],
    inputSize: [size, size],
    dim: 0,
    backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
    lora,
  });
}

/** A plugin folder with a random head (and with `lora`, random non-zero LoRA on every target). */
async function writePlugin(backboneDir: string, task: string, labels: string[], size: number, lora: boolean) {
  const backbone = await resolveBackbone(backboneDir);
  const dim = backbone.card.embedDim;
  const weights = initPluginWeights({ dim, labels, kind: 'multilabel', loss: 'bce' }, task.length);
  let seed = task.length;
  const noise = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => Math.sin(seed++ * 12.9898) * scale);
  for (const t of weights.values()) (t.data as Float32Array).set(noise(t.data.length, 0.5));
  const targets = backbone.loraTargets();
  if (lora)
    for (const t of targets) {
      const k = t.kind === 'conv' ? t.kernel![0] * t.kernel![1] : 1;
      const a = t.kind === 'conv' ? [8, t.inFeatures, t.kernel![0], t.kernel![1]] : [8, t.inFeatures];
      const b = t.kind === 'conv' ? [t.outFeatures, 8, 1, 1] : [t.outFeatures, 8];
      weights.set(`lora.${t.name}.A`, { dtype: 'float32', dims: a, data: noise(8 * t.inFeatures * k, 0.2) });
      weights.set(`lora.${t.name}.B`, { dtype: 'float32', dims: b, data: noise(t.outFeatures * 8, 0.2) });
    }
  const c = card(
    backbone,
    task,
    labels,
    size,
    lora ? { rank: 8, alpha: 16, targets: targets.map((t) => t.name) } : null,
  );
  const dir = join(root, task);
  await savePlugin(dir, { ...c, dim }, weights);
  return dir;
}

async function analyze(analyzer: EngineAnalyzer, pluginIds: string[]): Promise<AnalysisResult> {
  return analyzeVolume(analyzer, volumePath, pluginIds, await mkdtemp(join(root, 'out-')));
}

/** What `anymc3d heatmap --plugin DIR --label LABEL` computes for the case. */
async function cliHeatmap(pluginDir: string, backboneDir: string, label: string) {
  const backbone = await resolveBackbone(backboneDir);
  const plugin = await readPlugin(pluginDir, { name: backbone.card.name, weightHash: backbone.weightHash });
  const input = pluginInput(plugin.card);
  return caseHeatmaps({
    volume: prepareVolume(input, (await readVolume(volumePath)).volume),
    views: inputViews(input, backbone.card),
    backbone,
    plugin: { ...plugin, source: pluginDir },
    label,
    threads: 1,
  });
}

async function expectServerMap(result: AnalysisResult, id: string, pluginDir: string, backboneDir: string) {
  const image = await servedVolume(result.imagePath);
  const labels = Object.keys(result.predictions[id]!);
  for (const label of labels) {
    const path = result.heatmaps[id]?.[label];
    expect(path, `${id} ${label} has a heatmap`).toBeTypeOf('string');
    const served = await servedVolume(path!);
    expect(served.size).toEqual(image.size);
    for (const [k, v] of served.affine.entries()) expect(v).toBeCloseTo(image.affine[k]!, 6);
    expect(Math.max(...served.data), 'a map with some heat').toBeCloseTo(1, 2);
    const reference = await cliHeatmap(pluginDir, backboneDir, label);
    const expected = reference.heat.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(served.data[i]! - expected[i]!));
    expect(worst, `${id} ${label}: largest voxel difference`).toBeLessThanOrEqual(SAME);
    expect(result.predictions[id]![label]).toBeCloseTo(reference.summary.probability, 6);
  }
}

describe('EngineAnalyzer heatmaps are core caseHeatmaps', () => {
  let backboneDir: string;
  let lora: string;
  let frozen: string;
  beforeAll(async () => {
    backboneDir = join(root, 'tiny_dinov2');
    await writeTinyDinov2(backboneDir);
    lora = await writePlugin(backboneDir, 'lora-task', ['x'], 16, true);
    frozen = await writePlugin(backboneDir, 'frozen-vit', ['x', 'y'], 16, false);
  });

  it('a LoRA plugin gets the map of its adapted backbone and the probability it predicts through its LoRA', async () => {
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [lora], threads: 1 });
    try {
      expect(analyzer.plugins[0]!.frozenBackbone).toBe(false);
      const result = await analyze(analyzer, ['lora-task']);
      expect(analyzer.backbonePasses).toBe(0); // its adapted pass is its own, not the shared frozen one
      await expectServerMap(result, 'lora-task', lora, backboneDir);
      const backbone = await resolveBackbone(backboneDir);
      const plugin = await loadPlugin(lora, backbone, { threads: 1 });
      const view = inputViews(pluginInput(plugin.card), backbone.card)[0]!;
      const [batch] = [...sliceBatches((await readVolume(volumePath)).volume, { ...view, chunk: 1000 })];
      const predicted = await plugin.predict(batch!.data, batch!.count);
      await plugin.release();
      expect(result.predictions['lora-task']!.x).toBeCloseTo(predicted.probabilities[0]!, 5);
    } finally {
      await analyzer.close();
    }
  });

  it('a frozen ViT plugin gets the attention map from the shared pass, run once beside a LoRA plugin', async () => {
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [lora, frozen], threads: 1 });
    try {
      const result = await analyze(analyzer, ['frozen-vit', 'lora-task']);
      expect(analyzer.backbonePasses).toBe(1);
      await expectServerMap(result, 'frozen-vit', frozen, backboneDir);
    } finally {
      await analyzer.close();
    }
  });

  it('the server links each analysed case to its report for each plugin, served inline, uncached, locked down', async () => {
    const analyzer = await EngineAnalyzer.create({ backbone: backboneDir, plugins: [frozen], threads: 1 });
    const dataDir = await mkdtemp(join(tmpdir(), 'engine-report-'));
    const config = {
      ...configFromEnv({ ANYMC3D_TOKENS: `${ADMIN}:admin,${REVIEWER}:reviewer`, ANYMC3D_PORT: '0' }, dataDir),
    };
    const server = await createServer({ config, analyzer, log: () => undefined });
    try {
      const url = await server.listen();
      const posted = await fetch(`${url}/v1/cases?name=scan-17.nii.gz`, {
        method: 'POST',
        headers: auth(REVIEWER, { 'Content-Type': 'application/octet-stream' }),
        body: await readFile(volumePath),
      });
      expect(posted.status).toBe(202);
      const { id } = (await posted.json()) as { id: string };
      const done = (await waitForCase(url, id)) as {
        status: string;
        predictions: Record<
          string,
          { reportUrl: string; labels: { label: string; probability: number; threshold: number }[] }
        >;
      };
      expect(done.status).toBe('done');
      const p = done.predictions['frozen-vit']!;
      expect(p.reportUrl).toBe(`/v1/cases/${id}/reports/frozen-vit.html`);
      const report = await fetch(`${url}${p.reportUrl}`, { headers: auth(REVIEWER) });
      expect(report.status).toBe(200);
      expect(report.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(report.headers.get('cache-control')).toBe('no-store');
      expect(report.headers.get('content-security-policy')).toMatch(/default-src 'none'; img-src data:/);
      const html = await report.text();
      expect(html).toContain('<h1>scan-17.nii.gz · frozen-vit</h1>');
      for (const l of p.labels) {
        expect(html).toContain(`<td>${l.label}</td><td class="num" data-probability="${l.probability}">`);
        expect(html).toContain(l.threshold.toFixed(4));
      }
      expect(html).toContain('src="data:image/png;base64,');
      expect((await fetch(`${url}${p.reportUrl}`)).status).toBe(401);
      expect((await fetch(`${url}/v1/cases/${id}/reports/other.html`, { headers: auth(REVIEWER) })).status).toBe(404);
    } finally {
      await server.close();
      await analyzer.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a frozen CNN plugin gets a class activation map per label, the one caseHeatmaps gives', async () => {
    const frozen = await writePlugin('mobilenet_v1_224', 'frozen-cnn', ['a', 'b'], 32, false);
    const analyzer = await EngineAnalyzer.create({ backbone: 'mobilenet_v1_224', plugins: [frozen], threads: 1 });
    try {
      const result = await analyze(analyzer, ['frozen-cnn']);
      expect(result.heatmaps['frozen-cnn']!.a).not.toBe(result.heatmaps['frozen-cnn']!.b);
      await expectServerMap(result, 'frozen-cnn', frozen, 'mobilenet_v1_224');
    } finally {
      await analyzer.close();
    }
  });
});
