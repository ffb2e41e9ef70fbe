import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as run } from '../run-cli.test-helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../core/fixtures/volume/', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
const REFERENCE = JSON.parse(readFileSync(`${FIXTURES}reference.json`, 'utf8')) as Record<
  string,
  { affineRAS: number[][]; min: number; max: number; dtype: string; shape: number[] }
>;

describe('anymc3d inspect', () => {
  it('--json prints one object whose geometry equals nibabel', async () => {
    const { code, out } = await run(['inspect', '-i', `${FIXTURES}oblique_int16.nii.gz`, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as Record<string, unknown>;
    for (const key of ['size', 'spacing', 'origin', 'direction', 'affineRAS', 'dtype', 'min', 'max'])
      expect(report).toHaveProperty(key);
    const ref = REFERENCE['oblique_int16.nii.gz']!;
    expect(report.size).toEqual(ref.shape);
    expect(report.dtype).toBe(ref.dtype);
    expect(report.min).toBe(ref.min);
    expect(report.max).toBe(ref.max);
    const affine = report.affineRAS as number[][];
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) expect(affine[r]![c]!).toBeCloseTo(ref.affineRAS[r]![c]!, 5);
    expect((report.direction as number[]).length).toBe(9);
  });

  it('reports a DICOM series with its tilt and uneven slice spacing', async () => {
    const { code, out } = await run(['inspect', '-i', `${SHARED}dicom/ct-gantry-tilt`]);
    expect(code).toBe(0);
    expect(out).toMatch(/tilt\s+18\.50°/);
    expect(out).toMatch(/slice gaps UNEVEN/);
    expect(out).toMatch(/resampled {2}onto a regular grid/);
    expect(out).toMatch(/size\s+512 × 512 × 28/);
  });

  it('--dicom-grid stored stacks the tilted series as stored, and says nothing was resampled', async () => {
    const { code, out } = await run([
      'inspect',
      '-i',
      `${SHARED}dicom/ct-gantry-tilt`,
      '--dicom-grid',
      'stored',
      '--json',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(out) as { size: number[]; dicom: { regularized: boolean; maxPositionError: number } };
    expect(report.dicom.regularized).toBe(false);
    expect(report.dicom.maxPositionError).toBeGreaterThan(1);
    expect(report.size).toEqual([512, 512, 28]);
  });

  it('a bad file exits non-zero with one clear line on stderr', async () => {
    const path = `${FIXTURES}truncated.nii.gz`;
    const { code, out, err } = await run(['inspect', '-i', path]);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain(path);
    expect(err).toMatch(/truncated gzip/);
  });
});
