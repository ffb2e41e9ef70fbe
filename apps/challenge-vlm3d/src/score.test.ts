import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonReferenceAvailable, runPython } from '@anymc3d/core/testing';
import { describe, expect, it } from 'vitest';
import { expectSameNumbers } from './cli.test-helpers.js';
import { CT_RATE_LABELS } from './labels.js';
import { bareCaseId, readGroundTruth, readResults, scoreResults, type Vlm3dMetrics } from './score.js';

// Written by fixtures/make_score.py: a random submission with ties and scikit-learn's numbers for it.
const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

describe('scoreResults', () => {
  it('the committed fixtures are what make_score.py writes', async () => {
    if (!(await pythonReferenceAvailable(['sklearn', 'numpy']))) return;
    const dir = await mkdtemp(join(tmpdir(), 'vlm3d-fixture-'));
    await runPython(fixture('make_score.py'), [dir]);
    for (const name of ['results.json', 'labels.csv', 'expected.json', 'edge_cases.json']) {
      expect(await readFile(join(dir, name), 'utf8'), name).toBe(await readFile(fixture(name), 'utf8'));
    }
  });

  it('gives the challenge metrics as scikit-learn computes them', async () => {
    const expected = JSON.parse(await readFile(fixture('expected.json'), 'utf8')) as Vlm3dMetrics;
    const truth = await readGroundTruth(fixture('labels.csv'));
    const score = scoreResults(await readResults(fixture('results.json')), 'results.json', truth);
    expectSameNumbers(score.metrics, expected);
    expect(score.metrics.classification.per_pathology[5]!.auroc).toBeNull();
    expect(score.ignoredCases).toEqual([]);
  });

  it('equals the official evaluator on all-negative, all-positive, all-right and all-0.5 submissions', async () => {
    const edges = JSON.parse(await readFile(fixture('edge_cases.json'), 'utf8')) as {
      ids: string[];
      sets: { name: string; probabilities: number[][]; expected: Vlm3dMetrics }[];
    };
    const truth = await readGroundTruth(fixture('labels.csv'));
    for (const set of edges.sets) {
      const doc = {
        name: 'Generated probabilities',
        type: 'Abnormality Classification',
        version: { major: 1, minor: 0 },
        predictions: edges.ids.map((id, i) => ({
          input_image_name: id,
          probabilities: Object.fromEntries(CT_RATE_LABELS.map((l, k) => [l, set.probabilities[i]![k]!])),
        })),
      };
      expectSameNumbers(scoreResults(doc, set.name, truth).metrics, set.expected, set.name);
    }
    const crgOf = (name: string) => edges.sets.find((s) => s.name === name)!.expected.crg.CRG;
    expect([crgOf('all negative'), crgOf('all positive'), crgOf('all right')]).toEqual([1 / 3, 1 / 3, 1]);
  });

  it('reads the platform-wrapped predictions.json too', async () => {
    const doc = await readResults(fixture('results.json'));
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'vlm3d-'));
    await writeFile(join(dir, 'predictions.json'), JSON.stringify([{ outputs: [{ value: doc }] }]));
    expect(await readResults(join(dir, 'predictions.json'))).toEqual(doc);
  });

  it('refuses a submission with a missing case, naming it', async () => {
    const truth = await readGroundTruth(fixture('labels.csv'));
    const doc = (await readResults(fixture('results.json'))) as { predictions: { input_image_name: string }[] };
    const dropped = doc.predictions.shift()!.input_image_name;
    expect(() => scoreResults(doc, 'results.json', truth)).toThrow(`results.json: case "${dropped}" has no prediction`);
  });

  it('strips the volume extension from ground-truth names', () => {
    expect(bareCaseId('valid_1_a_1.nii.gz')).toBe('valid_1_a_1');
    expect(bareCaseId('valid_1_a_1')).toBe('valid_1_a_1');
  });
});
