import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from '../run-cli.test-helpers.js';

interface FixtureSet {
  name: string;
  threshold: number;
  labels: string[];
  scores: number[][];
  truth: number[][];
  weights: number[] | null;
  per_label: Record<string, number | null>[];
  macro: Record<string, number | null>;
}

// scikit-learn's values on random scores with ties (packages/core/fixtures/metrics/make_metrics.py).
const fixtureUrl = new URL('../../../core/fixtures/metrics/metrics.json', import.meta.url);

const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** Writes the set as two CSVs: predictions with rows reversed, labels reversed, CRLF and a BOM. */
async function writeSet(dir: string, set: FixtureSet, names: string[]) {
  const n = set.scores[0]!.length;
  const ids = Array.from({ length: n }, (_, i) => `case ${i}, "x"`);
  const gt = [['AccessionNo', ...names].map(quote).join(',')];
  for (let i = 0; i < n; i++) gt.push([quote(ids[i]!), ...set.truth.map((c) => String(c[i]))].join(','));
  const order = [...names.keys()].reverse();
  const pred = [['id', ...order.map((l) => names[l]!)].map(quote).join(',')];
  for (let i = n - 1; i >= 0; i--) {
    pred.push([quote(ids[i]!), ...order.map((l) => String(set.scores[l]![i]))].join(','));
  }
  await writeFile(join(dir, 'gt.csv'), `${gt.join('\n')}\n`);
  await writeFile(join(dir, 'pred.csv'), `\uFEFF${pred.join('\r\n')}\r\n`);
  return { pred: join(dir, 'pred.csv'), gt: join(dir, 'gt.csv') };
}

describe('anymc3d evaluate', () => {
  it('--json reports scikit-learn values with rows and columns in any order', async () => {
    const fixture = JSON.parse(await readFile(fixtureUrl, 'utf8')) as { sets: FixtureSet[] };
    const set = fixture.sets.find((s) => s.name === 'medium, one decimal')!;
    const names = set.labels.map((l, k) => (k === 1 ? `${l}, "quoted"` : l));
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-evaluate-'));
    const files = await writeSet(dir, set, names);
    const { code, out, err } = await capture(['evaluate', '--pred', files.pred, '--gt', files.gt, '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out) as {
      macro: Record<string, number | null>;
      per_label: Record<string, Record<string, number | null>>;
      crg: number;
    };
    expect(Object.keys(report.per_label)).toEqual(names);
    names.forEach((name, l) => {
      for (const [metric, expected] of Object.entries(set.per_label[l]!)) {
        if (metric.startsWith('best_')) continue;
        const got = report.per_label[name]![metric]!;
        if (expected === null) expect(got).toBeNull();
        else expect(Math.abs(got - expected)).toBeLessThanOrEqual(1e-9);
      }
    });
    for (const [metric, expected] of Object.entries(set.macro)) {
      expect(Math.abs(report.macro[metric]! - expected!)).toBeLessThanOrEqual(1e-9);
    }
    expect(report.per_label[names[0]!]!.auroc).toBeNull();
    expect(report.crg).toBeGreaterThan(0);
    expect(report).not.toHaveProperty('ci');
  });

  it('prints a table with bootstrap intervals', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-evaluate-'));
    await writeFile(join(dir, 'gt.csv'), 'id,A,B\nc1,1,0\nc2,0,1\nc3,1,1\nc4,0,0\n');
    await writeFile(join(dir, 'p.csv'), 'id,A,B\nc4,0.2,0.1\nc3,0.7,0.4\nc2,0.6,0.9\nc1,0.9,0.3\n');
    const argv = ['evaluate', '--pred', join(dir, 'p.csv'), '--gt', join(dir, 'gt.csv'), '--bootstrap', '50'];
    const { code, out } = await capture(argv);
    expect(code).toBe(0);
    // A: positives 0.9, 0.7 over negatives 0.6, 0.2 → AUROC 1; B: 0.9 and 0.4 vs 0.3 and 0.1 → 1
    expect(out).toMatch(/^A\s+2\/4\s+1\.000 \[/m);
    expect(out).toMatch(/^Macro mean\s+1\.000 \[/m);
    expect(out).toMatch(/^CRG /m);
    expect(out).toContain('50 case-level bootstrap resamples (seed 0)');
    const again = await capture(argv);
    expect(again.out).toBe(out);
    const json = await capture([...argv, '--json']);
    const ci = (JSON.parse(json.out) as { ci: { iterations: number; macro: Record<string, [number, number]> } }).ci;
    expect(ci.iterations).toBe(50);
    expect(ci.macro.f1![0]).toBeLessThanOrEqual(ci.macro.f1![1]);
  });

  it('--plots draws ROC curves and reliability diagrams a reader can read, with their specs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-evaluate-plots-'));
    const fixture = JSON.parse(await readFile(fixtureUrl, 'utf8')) as { sets: FixtureSet[] };
    const set = fixture.sets[0]!;
    const names = set.labels.map((l, i) => (i === 0 ? 'Pleural effusion' : l));
    const files = await writeSet(dir, set, names);
    const plots = join(dir, 'plots');
    const r = await capture(['evaluate', '--pred', files.pred, '--gt', files.gt, '--plots', plots, '--json']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as {
      per_label: Record<string, { auroc: number | null }>;
      plots: { roc: { svg: string }; reliability: { svg: string }; noRocCurve: string[] };
    };
    const roc = await readFile(report.plots.roc.svg, 'utf8');
    // Each label with both classes is in the legend with its AUROC (the one the table reports).
    for (const [label, m] of Object.entries(report.per_label)) {
      if (m.auroc === null) expect(report.plots.noRocCurve).toContain(label);
      else expect(roc).toContain(`>${label} (AUROC ${m.auroc.toFixed(3)})<`);
    }
    for (const words of [
      'ROC curve per label',
      'False positive rate (1 − specificity)',
      'True positive rate (sensitivity)',
    ])
      expect(roc).toContain(`>${words}<`);
    const reliability = await readFile(report.plots.reliability.svg, 'utf8');
    for (const words of [
      'Reliability diagram per label',
      'Mean predicted probability',
      'Observed fraction positive',
      '>Pleural effusion<',
    ])
      expect(reliability).toContain(words.startsWith('>') ? words : `>${words}<`);
    expect(JSON.parse(await readFile(join(plots, 'roc.vl.json'), 'utf8')).$schema).toMatch(/vega-lite/);
  });

  it('names the file and the missing case or label', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-evaluate-'));
    await writeFile(join(dir, 'gt.csv'), 'id,A,B\nc1,1,0\nc2,0,1\n');
    await writeFile(join(dir, 'p1.csv'), 'id,A,B\nc1,0.2,0.1\n');
    await writeFile(join(dir, 'p2.csv'), 'id,A\nc1,0.2\nc2,0.3\n');
    const run = (p: string) => capture(['evaluate', '--pred', join(dir, p), '--gt', join(dir, 'gt.csv'), '--json']);
    const missingCase = await run('p1.csv');
    expect(missingCase.code).toBe(1);
    expect(missingCase.err).toBe(
      `anymc3d: ${join(dir, 'p1.csv')}: case "c2" (in ${join(dir, 'gt.csv')}) has no prediction\n`,
    );
    const missingLabel = await run('p2.csv');
    expect(missingLabel.code).toBe(1);
    expect(missingLabel.err).toContain('p2.csv: label "B"');
    const missingFile = await run('none.csv');
    expect(missingFile.err).toMatch(/none\.csv: cannot read the CSV file: file not found/);
    const bad = await capture(['evaluate', '--pred', 'a', '--gt', 'b', '--bootstrap', '-1']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toBe('anymc3d: --bootstrap must be a whole number >= 0\n');
  });
});
