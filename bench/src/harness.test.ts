import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendResults, markdownTable, measureLoad } from './harness.js';

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
  });
});
