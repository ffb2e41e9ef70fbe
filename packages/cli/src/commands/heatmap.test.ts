import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBackbone } from '@anymc3d/adapters/registry';
import { writeTinyDinov2 } from '@anymc3d/adapters/testing';
import type { PluginCard } from '@anymc3d/core/plugin';
import { initPluginWeights, inputViews, loadPlugin, pluginInput, savePlugin } from '@anymc3d/core/plugin';
import { testPluginCard } from '@anymc3d/core/testing';
import { readVolume, sliceBatches } from '@anymc3d/core/volume';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured as run } from '../run-cli.test-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = fileURLToPath(new URL('../../../core/fixtures/volume/', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'anymc3d-cli-heat-'));
const pluginDir = join(root, 'plugin');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  // A plugin for the shipped MobileNet (no weights folder needed), random head: the command's
  // plumbing is under test here; localisation is tested in core/heatmap.
  const backbone = await resolveBackbone('mobilenet_v1_224');
  const dim = backbone.card.embedDim;
  const card: PluginCard = testPluginCard({
    task: 'cli-heat',
    labels: ['Pleural effusion', 'Nodule'],
    windows: [[-1000, 1000]],
    inputSize: [64, 64],
    dim,
    backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
  });
  await savePlugin(
    pluginDir,
    card,
    initPluginWeights({ dim, labels: card.labels, kind: 'multilabel', loss: 'bce' }, 1),
  );
});

describe('anymc3d heatmap', () => {
  it('writes a 0–1 NIfTI on the input grid (read back as float32), a JSON summary and a PNG montage', async () => {
    const out = join(root, 'out');
    const input = join(FIXTURES, 'oblique_int16.nii.gz');
    const {
      code,
      out: stdout,
      err,
    } = await run([
      'heatmap',
      '-i',
      input,
      '--plugin',
      pluginDir,
      '-o',
      out,
      '--label',
      'Pleural effusion',
      '--png',
      '--json',
      '--threads',
      '1',
    ]);
    expect(err).toMatch(/^heatmap axial: \d+\/16 /m); // plain progress lines off a TTY
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as { label: string; method: string; files: { nifti: string; png: string } };
    expect(summary.label).toBe('Pleural effusion');
    expect(summary.method).toBe('cam');
    expect(summary.files.nifti).toBe(join(out, 'pleural-effusion.nii.gz'));
    const [heat, image] = await Promise.all([readVolume(summary.files.nifti), readVolume(input)]);
    expect(heat.volume.data).toBeInstanceOf(Float32Array);
    expect([...heat.volume.size]).toEqual([...image.volume.size]);
    expect([...heat.volume.origin]).toEqual([...image.volume.origin]);
    const png = readFileSync(summary.files.png);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(100); // IHDR width
    const montage = JSON.parse(readFileSync(join(out, 'pleural-effusion.json'), 'utf8')).montage;
    expect(montage.slices.length).toBe(4);
    expect(montage.views.map((v: { name: string }) => v.name)).toEqual(['axial']);
    // The montage says what it shows: case, plugin, label, probability and threshold, the view.
    const svg = readFileSync(join(out, 'pleural-effusion.svg'), 'utf8');
    expect(svg).toMatch(
      />oblique_int16 · [^<]+ plugin · Pleural effusion: p = 0\.\d{3}, threshold 0\.\d{3} → (positive|negative)</,
    );
    expect(svg).toMatch(/>axial view \(axial, slices along k\) · view weight 1\.00/);
  }, 60_000);

  it('--report writes one self-contained HTML file that Chromium opens offline: probabilities, montage, provenance', async () => {
    const out = join(root, 'report');
    const input = join(FIXTURES, 'oblique_int16.nii.gz');
    const r = await run([
      'heatmap',
      '-i',
      input,
      '--plugin',
      pluginDir,
      '-o',
      out,
      '--report',
      '--json',
      '--threads',
      '1',
    ]);
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out) as {
      probabilities: Record<string, number>;
      files: { report: string; png: string };
    };
    expect(summary.files.report).toBe(join(out, 'report.html'));
    const html = readFileSync(summary.files.report, 'utf8');
    // Self-contained: nothing fetched from anywhere (no src/href to a file or URL, no script).
    expect(html).not.toMatch(/(src|href)="(?!data:)/);
    expect(html).not.toMatch(/<script/i);
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
      return;
    }
    const profile = await mkdtemp(join(tmpdir(), 'anymc3d-report-chromium-'));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        `--user-data-dir=${profile}`,
      ].filter((f) => !f.startsWith('--user-data-dir')),
    });
    try {
      const context = await browser.newContext({ offline: true });
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', (q) => {
        if (!q.url().startsWith('data:') && !q.url().startsWith('file:')) requests.push(q.url());
      });
      await page.goto(`file://${summary.files.report}`);
      const text = await page.textContent('body');
      for (const [label, p] of Object.entries(summary.probabilities)) {
        expect(text).toContain(label);
        expect(text).toContain(p.toFixed(4));
      }
      expect(text).toContain('backbone weights sha256');
      const image = await page.$eval('img', (img) => ({ ok: img.complete, width: img.naturalWidth, alt: img.alt }));
      expect(image.ok).toBe(true);
      expect(image.width).toBe(readFileSync(summary.files.png).readUInt32BE(16)); // the PNG's IHDR width
      expect(image.alt).toMatch(/heatmap montage: Pleural effusion/);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses an unknown label with one clear line', async () => {
    const out = join(root, 'bad');
    const input = join(FIXTURES, 'oblique_int16.nii.gz');
    const { code, err } = await run(['heatmap', '-i', input, '--plugin', pluginDir, '-o', out, '--label', 'Nope']);
    expect(code).toBe(1);
    expect(err).toMatch(/no label "Nope".*Pleural effusion, Nodule/);
    expect(existsSync(join(out, 'nope.nii.gz'))).toBe(false);
  });

  it('refuses a folder that is not a plugin', async () => {
    const { code, err } = await run([
      'heatmap',
      '-i',
      join(FIXTURES, 'oblique_int16.nii.gz'),
      '--plugin',
      root,
      '-o',
      root,
    ]);
    expect(code).toBe(1);
    expect(err).toMatch(/plugin\.json.*cannot read the plugin card/);
  });
});

describe('anymc3d heatmap with a LoRA plugin on a DINOv2 folder', () => {
  it('shows the adapted attention and the probability the plugin predicts through its LoRA', async () => {
    const weightsDir = join(root, 'tiny_dinov2');
    await writeTinyDinov2(weightsDir, { registers: 1 });
    const backbone = await resolveBackbone(weightsDir);
    const targets = backbone.loraTargets();
    const weights = initPluginWeights({ dim: 32, labels: ['x'], kind: 'multilabel', loss: 'bce' }, 4);
    let seed = 1;
    const noise = (n: number) => Float32Array.from({ length: n }, () => Math.sin(seed++ * 12.9898) * 0.2);
    for (const t of targets) {
      const k = t.kind === 'conv' ? t.kernel![0] * t.kernel![1] : 1;
      const a = t.kind === 'conv' ? [8, t.inFeatures, t.kernel![0], t.kernel![1]] : [8, t.inFeatures];
      const b = t.kind === 'conv' ? [t.outFeatures, 8, 1, 1] : [t.outFeatures, 8];
      weights.set(`lora.${t.name}.A`, { dtype: 'float32', dims: a, data: noise(8 * t.inFeatures * k) });
      weights.set(`lora.${t.name}.B`, { dtype: 'float32', dims: b, data: noise(t.outFeatures * 8) });
    }
    const card: PluginCard = testPluginCard({
      task: 'lora',
      labels: ['x'],
      windows: [[-1000, 1000]],
      inputSize: [16, 16],
      dim: 32,
      backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
      lora: { rank: 8, alpha: 16, targets: targets.map((t) => t.name) },
    });
    const dir = join(root, 'lora-plugin');
    await savePlugin(dir, card, weights);
    const input = join(FIXTURES, 'oblique_int16.nii.gz');
    const { code, out, err } = await run([
      'heatmap',
      '-i',
      input,
      '--plugin',
      dir,
      '--backbone',
      weightsDir,
      '-o',
      join(root, 'lora-out'),
      '--json',
      '--no-progress',
    ]);
    expect(err).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(out) as { method: string; probability: number };
    expect(summary.method).toBe('attention');
    const view = inputViews(pluginInput(card), backbone.card)[0]!;
    const [batch] = [...sliceBatches((await readVolume(input)).volume, { ...view, chunk: 1000 })];
    const plugin = await loadPlugin(dir, backbone, { threads: 1 });
    const reference = await plugin.predict(batch!.data, batch!.count);
    await plugin.release();
    expect(summary.probability).toBeCloseTo(reference.probabilities[0]!, 5);
  }, 60_000);
});
