import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CellResult, cellDir, writeCell } from '@anymc3d/core/benchmark';
import { bootstrapIntervals, evaluate } from '@anymc3d/core/metrics';
import { Random } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../run-cli.test-helpers.js';

/** A finished cell whose test scores separate the classes by `signal` (scored as `benchmark run` does). */
function cell(mode: 'probe' | 'attn', signal: number, seed: number): CellResult {
  const rand = new Random(seed);
  const truth = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = truth.map((t) => 1 / (1 + Math.exp(-(signal * t + rand.normal()))));
  const data = { labels: ['finding'], scores: [scores], truth: [truth] };
  const e = evaluate(data);
  return {
    format: 'anymc3d-benchmark-cell',
    version: 1,
    key: `k-${mode}`,
    task: 'toy',
    backbone: { name: 'tiny', weightHash: '0'.repeat(64) },
    mode,
    status: 'done',
    labels: ['finding'],
    selection: {
      metric: 'auroc',
      candidates: [{ step: 10, valAuroc: 0.7, trainLoss: 0.1 }],
      chosenStep: 10,
      thresholds: [0.5],
      criterion: 'youden',
    },
    test: {
      cases: 40,
      positives: e.positives,
      macro: e.macro,
      perLabel: e.perLabel,
      intervals: bootstrapIntervals(data, 0.5, { iterations: 100, seed: 0 }),
    },
    predictions: { ids: truth.map((_, i) => `c${i}`), scores: [scores], truth: [truth] },
    parameters: { trainable: 10 },
    seconds: { train: 1, predict: 1 },
    plugin: 'none',
  };
}

describe('anymc3d benchmark', () => {
  it('compare writes the report, the JSON and a PNG plot from a results folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-cli-bench-'));
    await writeCell(cellDir(dir, 'toy', 'tiny', 'probe'), cell('probe', 0.5, 1));
    await writeCell(cellDir(dir, 'toy', 'tiny', 'attn'), cell('attn', 3, 2));
    const r = await capture(['benchmark', 'compare', '-i', dir, '--bootstrap', '500']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('1 comparison(s)');
    const md = await readFile(join(dir, 'compare.md'), 'utf8');
    expect(md).toMatch(/### attn − probe on tiny/);
    expect(md).toMatch(/\| toy \| 0\.\d{3} \| 0\.\d{3} \| 0\.\d{3} \[/);
    const json = JSON.parse(await readFile(join(dir, 'compare.json'), 'utf8'));
    expect(json.comparisons[0].perTask[0].interval.resamples).toBeGreaterThan(0);
    const png = await readFile(join(dir, 'auroc.png'));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(png.readUInt32BE(20)).toBeGreaterThan(100); // IHDR height
    expect(await readFile(join(dir, 'differences.svg'), 'utf8')).toContain('>attn − probe on tiny<');
  });

  it('refuses bad input with one clear line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-cli-bench-'));
    const notResults = await capture(['benchmark', 'compare', '-i', dir]);
    expect(notResults.code).toBe(1);
    expect(notResults.err).toMatch(/not a benchmark folder/);
    const mode = await capture([
      'benchmark',
      'run',
      '--tasks',
      'medmnist-adrenal',
      '--data',
      'x.npz',
      '--backbones',
      'mobilenet_v1_224',
      '--modes',
      'probe,finetune',
      '-o',
      dir,
    ]);
    expect(mode.code).toBe(1);
    expect(mode.err).toMatch(/unknown mode "finetune"/);
    const data = await capture([
      'benchmark',
      'run',
      '--tasks',
      'medmnist-adrenal,medmnist-nodule',
      '--data',
      'x.npz',
      '--backbones',
      'mobilenet_v1_224',
      '-o',
      dir,
    ]);
    expect(data.code).toBe(1);
    expect(data.err).toMatch(/<task>=<path>/);
    const one = await capture(['benchmark', 'compare', '-i', dir, '--general', 'a']);
    expect(one.code).toBe(1);
    expect(one.err).toMatch(/give both/);
  });
});
