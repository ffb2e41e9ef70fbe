import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectUnits, rescaleToHounsfield } from '@anymc3d/core/volume';
import { describe, expect, it } from 'vitest';
import { challengePaths, findInputCases } from './inputs.js';

describe('challenge inputs', () => {
  it('uses flags, else FORITHMUS_*, else /input, /output and the first of /weights, /opt/ml/model', () => {
    const none = () => false;
    expect(challengePaths({}, {}, none)).toMatchObject({ input: '/input', output: '/output', weights: '/weights' });
    expect(challengePaths({}, {}, none).weightsFrom).toMatch(/none of \/weights, \/opt\/ml\/model exists/);
    const env = { FORITHMUS_INPUT: '/in', FORITHMUS_OUTPUT: '/out', FORITHMUS_WEIGHTS: '/w' };
    expect(challengePaths(env, {}, () => true)).toEqual({
      input: '/in',
      output: '/out',
      weights: '/w',
      weightsFrom: 'FORITHMUS_WEIGHTS',
    });
    expect(challengePaths(env, { weights: '/flag' }).weights).toBe('/flag');
    // Grand Challenge extracts the model tarball to /opt/ml/model; /weights (2026) wins when both exist.
    expect(challengePaths({}, {}, (p) => p === '/opt/ml/model').weights).toBe('/opt/ml/model');
    expect(challengePaths({}, {}, () => true).weights).toBe('/weights');
  });

  it('finds flat .nii.gz/.mha and Grand Challenge images/<slug>/<uuid>.mha, names without extension', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vlm3d-in-'));
    await writeFile(join(dir, 'valid_53_a_1.nii.gz'), '');
    await writeFile(join(dir, 'valid_7_b_2.mha'), '');
    await writeFile(join(dir, 'notes.txt'), '');
    await mkdir(join(dir, 'images', 'chest-ct'), { recursive: true });
    await writeFile(join(dir, 'images', 'chest-ct', '0b9c3f7e-uuid.mha'), '');
    expect(findInputCases(dir).map((c) => c.name)).toEqual(['0b9c3f7e-uuid', 'valid_53_a_1', 'valid_7_b_2']);
    // Volumes linked into the folder count; a dangling link does not.
    await symlink(join(dir, 'valid_53_a_1.nii.gz'), join(dir, 'valid_8_a_1.nii.gz'));
    await symlink(join(dir, 'gone.nii.gz'), join(dir, 'valid_9_a_1.nii.gz'));
    expect(findInputCases(dir).map((c) => c.name)).toContain('valid_8_a_1');
    expect(findInputCases(dir).map((c) => c.name)).not.toContain('valid_9_a_1');
  });

  it('refuses two files that would share a case name, and an empty folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vlm3d-in-'));
    await expect(async () => findInputCases(dir)).rejects.toThrow(/no .nii.gz/);
    await writeFile(join(dir, 'a.nii.gz'), '');
    await writeFile(join(dir, 'a.mha'), '');
    expect(() => findInputCases(dir)).toThrow(/case name "a" also used/);
  });
});

describe('Hounsfield detection', () => {
  it('tells HU from raw values and never rescales HU twice', () => {
    expect(detectUnits({ min: -1024, p01: -1010, max: 3000 })).toBe('hounsfield');
    expect(detectUnits({ min: 0, p01: 20, max: 4000 })).toBe('raw');
    expect(rescaleToHounsfield({ min: -1024, p01: -1000, max: 2000 }, { slope: 1, intercept: -1024 })).toEqual({
      slope: 1,
      intercept: 0,
    });
    expect(rescaleToHounsfield({ min: 0, p01: 10, max: 4000 }, { slope: 1, intercept: -1024 })).toEqual({
      slope: 1,
      intercept: -1024,
    });
    expect(() => rescaleToHounsfield({ min: 0, p01: 10, max: 4000 }, undefined)).toThrow(/no RescaleSlope/);
    expect(() => detectUnits({ min: -50, p01: -10, max: 100 })).toThrow(/cannot tell/);
  });
});
