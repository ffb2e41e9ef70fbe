import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendResults, markdownTable, measureLoad } from './harness.js';
import { ratioPoints } from './results-plot.js';

describe('bench harness', () => {
  it('formats a markdown table', () => {
    expect(
      markdownTable(
        ['a', 'b'],
        [
          ['x', 1.23456],
          ['y', 250.04],
        ],
      ),
    ).toBe('| a | b |\n|---|---|\n| x | 1.23 |\n| y | 250.0 |');
  });

  it('appends a dated section with machine, load, command and ratio', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'bench-')), 'RESULTS.md');
    const { load } = await measureLoad(async () => 1);
    const report = { title: 'demo', command: 'node x.js', table: '| a |\n|---|\n| 1 |', ratios: ['1.5× peer'] };
    await appendResults(report, load, path, new Date('2026-11-29T10:00:00Z'));
    await appendResults(report, load, path, new Date('2026-11-29T11:00:00Z'));
    const text = await readFile(path, 'utf8');
    expect(text.match(/## demo — 2026-11-29/g)).toHaveLength(2);
    expect(text).toContain('Machine: ');
    expect(text).toContain('Load during the run: other processes');
    expect(text).toContain('- Ratio: 1.5× peer');
    expect(text).toContain('Command: `node x.js`');
  });

  it('writes a run setting taken from the environment into the command, so the command reproduces the run', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'bench-')), 'RESULTS.md');
    const { load } = await measureLoad(async () => 1);
    const saved = process.env.ANYMC3D_ORT_SPINNING;
    process.env.ANYMC3D_ORT_SPINNING = '1';
    try {
      await appendResults({ title: 'spin', command: 'node x.js', table: '', ratios: [] }, load, path);
    } finally {
      if (saved === undefined) delete process.env.ANYMC3D_ORT_SPINNING;
      else process.env.ANYMC3D_ORT_SPINNING = saved;
    }
    expect(await readFile(path, 'utf8')).toContain('Command: `ANYMC3D_ORT_SPINNING=1 node x.js`');
  });

  it('reads every ratio row with its section, time and peer, and the append redraws the picture', async () => {
    const md = [
      '# Benchmark results',
      '',
      '## Frozen ViT forward — 2026-11-29 05:53 UTC',
      '- Ratio: ViT-B/14, 2 thread(s), batch 8: ORT ÷ PyTorch = 1.91×',
      '- PyTorch 1.13.0a0 (Debian, OpenBLAS), no_grad.',
      '',
      '## Frozen ViT forward — 2026-12-03 18:35 UTC',
      '- Ratio: ViT-B/14, 2 thread(s), batch 8: ORT ÷ PyTorch = 1.31×',
      '- Peer: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (PyTorch 1.13.0a0).',
      '',
      '## heatmap-server load — 2026-11-29 04:27 UTC',
      '- Ratio: slice PNG: heatmap-server ÷ peer requests/s = 1.00, p99 ratio 3.88',
    ].join('\n');
    expect(ratioPoints(md)).toEqual([
      {
        benchmark: 'Frozen ViT forward',
        time: '2026-11-29T05:53:00Z',
        quantity: 'ViT-B/14, 2 thread(s), batch 8: ORT ÷ PyTorch',
        value: 1.91,
        peer: 'with the Haswell override',
      },
      {
        benchmark: 'Frozen ViT forward',
        time: '2026-12-03T18:35:00Z',
        quantity: 'ViT-B/14, 2 thread(s), batch 8: ORT ÷ PyTorch',
        value: 1.31,
        peer: 'at its best',
      },
      {
        benchmark: 'heatmap-server load',
        time: '2026-11-29T04:27:00Z',
        quantity: 'slice PNG: heatmap-server ÷ peer requests/s',
        value: 1,
        peer: 'no Python peer',
      },
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'bench-plot-'));
    const { load } = await measureLoad(async () => 1);
    await appendResults(
      { title: 'demo', command: 'x', table: '|a|', ratios: ['speed: anymc3d ÷ peer = 1.5×'] },
      load,
      join(dir, 'RESULTS.md'),
    );
    const svg = await readFile(join(dir, 'ratios-over-time.svg'), 'utf8');
    expect(svg).toContain('>speed: anymc3d ÷ peer<');
    expect(svg).toContain('>demo<');
  });
});
