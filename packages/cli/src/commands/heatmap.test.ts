import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBackbone } from '@anymc3d/adapters/registry';
import type { PluginCard } from '@anymc3d/core/plugin';
import { initPluginWeights, savePlugin } from '@anymc3d/core/plugin';
import { readVolume } from '@anymc3d/core/volume';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../cli.js';

const FIXTURES = fileURLToPath(new URL('../../../core/fixtures/volume/', import.meta.url));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    return { code: await runCli(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

const root = mkdtempSync(join(tmpdir(), 'anymc3d-cli-heat-'));
const pluginDir = join(root, 'plugin');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  // A plugin for the shipped MobileNet (no weights folder needed), random head: the command's
  // plumbing is under test here; localisation is tested in core/heatmap.
  const backbone = await resolveBackbone('mobilenet_v1_224');
  const dim = backbone.card.embedDim;
  const card: PluginCard = {
    format: 'anymc3d-plugin',
    version: 1,
    task: 'cli-heat',
    kind: 'multilabel',
    loss: 'bce',
    labels: ['Pleural effusion', 'Nodule'],
    views: ['axial'],
    axis: 'axial',
    windows: [{ center: 0, width: 2000 }],
    inputSize: [64, 64],
    thresholds: [0.5, 0.5],
    dim,
    backbone: { name: backbone.card.name, weightHash: backbone.weightHash },
    lora: null,
    parameters: { lora: 0, head: 0, total: 0 },
    training: { cases: 0, steps: 0, options: {} },
    metrics: {},
  };
  await savePlugin(
    pluginDir,
    card,
    initPluginWeights({ dim, labels: card.labels, kind: 'multilabel', loss: 'bce' }, 1),
  );
});

describe('anymc3d heatmap', () => {
  it('writes a float32 NIfTI on the input grid, a JSON summary and a PNG montage', async () => {
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
    expect(JSON.parse(readFileSync(join(out, 'pleural-effusion.json'), 'utf8')).montage.slices.length).toBe(8);
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
