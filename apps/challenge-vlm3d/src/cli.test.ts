import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { vlm3d as run } from './cli.test-helpers.js';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

describe('vlm3d command line', () => {
  it('validate accepts the fixture submission and checks it covers the ground truth', async () => {
    const r = await run(['validate', fixture('results.json'), '--gt', fixture('labels.csv')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('valid (48 cases, every one of the 48 expected)');
  });

  it('validate lists the problems of a bad submission and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vlm3d-cli-'));
    const doc = JSON.parse(await readFile(fixture('results.json'), 'utf8')) as {
      predictions: { input_image_name: string; probabilities: Record<string, number> }[];
    };
    doc.predictions[0]!.input_image_name += '.nii.gz';
    delete doc.predictions[1]!.probabilities.Emphysema;
    await writeFile(join(dir, 'bad.json'), JSON.stringify(doc));
    const r = await run(['validate', join(dir, 'bad.json')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/2 problem\(s\)/);
    expect(r.out).toMatch(/without extension/);
    expect(r.out).toMatch(/label "Emphysema" is missing/);
  });

  it('score --json prints and writes the metrics document; the table shows intervals', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vlm3d-cli-'));
    const output = join(dir, 'metrics.json');
    const args = ['score', '--pred', fixture('results.json'), '--gt', fixture('labels.csv')];
    const r = await run([...args, '--json', '-o', output]);
    expect(r.code).toBe(0);
    const metrics = JSON.parse(r.out) as { crg: { CRG: number }; classification: { macro: { auroc: number } } };
    const expected = JSON.parse(await readFile(fixture('expected.json'), 'utf8')) as typeof metrics;
    expect(metrics.crg.CRG).toBeCloseTo(expected.crg.CRG, 12);
    expect(metrics.classification.macro.auroc).toBeCloseTo(expected.classification.macro.auroc, 12);
    expect(JSON.parse(await readFile(output, 'utf8'))).toEqual(metrics);
    const table = await run([...args, '--bootstrap', '100']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^Medical material\s+\d+\/48\s+0\.\d{3} \[/m);
    expect(table.out).toContain('100 case-level bootstrap resamples');
  });

  it('usage errors exit 2 and input errors exit 1 with one line naming the file', async () => {
    expect((await run(['score', '--pred', 'x.json'])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    // Flags are parsed by yargs, strictly: an unknown flag or a missing value is a usage error.
    const unknown = await run(['score', '--bogus', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^vlm3d: Unknown argument: bogus\n/);
    expect((await run(['run', '--threads'])).err).toMatch(/^vlm3d: Not enough arguments following: threads/);
    const missing = await run(['score', '--pred', '/nonexistent/r.json', '--gt', fixture('labels.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('vlm3d: /nonexistent/r.json: cannot read the results: file not found\n');
  });
});
