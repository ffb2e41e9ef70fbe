import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probabilitiesOf } from '@anymc3d/core/plugin';
import { foldRows } from '@anymc3d/core/workflows';
import { describe, expect, it } from 'vitest';
import { writePredictions } from './outputs.js';

describe('what predictions files hold', () => {
  it('multi-class: softmax probabilities that sum to 1, no per-class folding, the arg max named', async () => {
    const rows = [probabilitiesOf([2, 0.5, -1, 0.4], 'multiclass'), probabilitiesOf([-3, 1, 1.2, 0], 'multiclass')];
    for (const r of rows) expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // Thresholds that would move every class differently if folded: the rows stay as they are.
    const thresholds = [0.2, 0.7, 0.9, 0.1];
    expect(foldRows(rows, thresholds, 'multiclass')).toEqual(rows);
    const folded = foldRows(rows, thresholds, 'multilabel');
    expect(folded[0]!.reduce((a, b) => a + b, 0)).not.toBeCloseTo(1, 3);
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-out-'));
    const labels = ['none', 'mild', 'moderate', 'severe'];
    await writePredictions(dir, { labels, ids: ['a', 'b'], probabilities: rows, multiclass: true }, {});
    const doc = JSON.parse(await readFile(join(dir, 'predictions.json'), 'utf8')) as {
      cases: { class: string; probabilities: Record<string, number> }[];
    };
    expect(doc.cases.map((c) => c.class)).toEqual(['none', 'moderate']);
    const provenance = JSON.parse(await readFile(join(dir, 'provenance.json'), 'utf8')) as { operatingPoint: string };
    expect(provenance.operatingPoint).toMatch(/arg max|highest probability/);
  });

  it('probabilities from logits keep their ranking where float32 saturates, and the CSV keeps every digit', async () => {
    const p = [18, 19, 25, 30].map((z) => probabilitiesOf([z], 'multilabel')[0]!);
    // float32 sigmoid gives exactly 1 for all four; float64 keeps them apart and ordered.
    expect(new Set(p).size).toBe(4);
    expect([...p].sort((a, b) => a - b)).toEqual(p);
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-out-'));
    await writePredictions(dir, { labels: ['x'], ids: ['a', 'b', 'c', 'd'], probabilities: p.map((v) => [v]) }, {});
    const csv = (await readFile(join(dir, 'predictions.csv'), 'utf8')).trim().split('\n').slice(1);
    expect(csv.map((l) => Number(l.split(',')[1]))).toEqual(p);
  });
});
