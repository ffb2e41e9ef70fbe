import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pythonReferenceAvailable, runPython } from '../testing/python.js';
import { Random } from '../util/random.js';
import { forEachResample, percentileInterval, quantileSorted } from './bootstrap.js';
import {
  foldAll,
  foldScores,
  foldThreshold,
  selectThreshold,
  selectThresholds,
  unfoldThreshold,
} from './calibration.js';
import { confusionAt, f1 } from './confusion.js';
import { crg, crgFromCounts } from './crg.js';
import { bootstrapIntervals, evaluate, METRIC_NAMES, type MetricSet } from './evaluate.js';
import { auroc, averagePrecision, RankedScores } from './ranking.js';

interface FixtureSet {
  name: string;
  threshold: number;
  labels: string[];
  scores: number[][];
  truth: number[][];
  weights: number[] | null;
  per_label: (MetricSet & { best_f1?: number; best_youden?: number })[];
  macro: MetricSet;
}
interface Fixture {
  sets: FixtureSet[];
  quantiles: { values: number[]; q: number[]; expected: number[] }[];
}

// Written by fixtures/metrics/make_metrics.py (scikit-learn on random scores with ties).
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/metrics/metrics.json', import.meta.url), 'utf8'),
) as Fixture;

function expectClose(actual: number | null, expected: number | null, what: string) {
  if (expected === null) {
    expect(actual, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  expect(Math.abs((actual as number) - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-9);
}

describe('metrics against scikit-learn', () => {
  it('the committed fixture is what make_metrics.py writes', async () => {
    if (!(await pythonReferenceAvailable(['sklearn', 'numpy']))) return;
    const out = join(await mkdtemp(join(tmpdir(), 'anymc3d-metrics-')), 'metrics.json');
    await runPython(new URL('../../fixtures/metrics/make_metrics.py', import.meta.url).pathname, [out]);
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(fixture);
  });

  for (const set of fixture.sets) {
    it(`per-label and macro values match on "${set.name}"`, () => {
      const weights = set.weights ?? undefined;
      set.labels.forEach((label, l) => {
        const scores = set.scores[l]!;
        const truth = set.truth[l]!;
        const expected = set.per_label[l]!;
        expectClose(auroc(scores, truth, weights), expected.auroc, `${label} auroc`);
        expectClose(averagePrecision(scores, truth, weights), expected.ap, `${label} ap`);
      });
      if (weights !== undefined) {
        // evaluate() has no weights; the weighted path is the one bootstrap uses (checked below).
        set.labels.forEach((label, l) => {
          const c = confusionAt(set.scores[l]!, set.truth[l]!, set.threshold, weights);
          expectClose(f1(c), set.per_label[l]!.f1, `${label} weighted f1`);
        });
        return;
      }
      const result = evaluate(set, set.threshold);
      for (const name of METRIC_NAMES) {
        set.labels.forEach((label, l) => {
          expectClose(result.perLabel[l]![name], set.per_label[l]![name], `${label} ${name}`);
        });
        expectClose(result.macro[name], set.macro[name], `macro ${name}`);
      }
      // The first label of every set has no positive: AUROC/AP undefined and out of the macro.
      expect(result.perLabel[0]!.auroc).toBeNull();
      expect(result.positives[0]).toBe(0);
    });
  }

  it('has ties in the fixtures (including scores exactly at the threshold)', () => {
    const set = fixture.sets[1]!;
    const ranked = new RankedScores(set.scores[1]!);
    expect(ranked.groupEnds.length).toBeLessThan(set.scores[1]!.length / 2);
    expect(fixture.sets.some((s) => s.scores.some((col) => col.includes(s.threshold)))).toBe(true);
  });

  it('integer weights are the same as repeating cases (what a bootstrap resample is)', () => {
    const set = fixture.sets[2]!;
    const scores = set.scores[3]!;
    const truth = set.truth[3]!;
    const ranked = new RankedScores(scores);
    forEachResample(scores.length, { iterations: 3, seed: 7 }, (counts) => {
      const s: number[] = [];
      const t: number[] = [];
      counts.forEach((c, i) => {
        for (let k = 0; k < c; k++) {
          s.push(scores[i]!);
          t.push(truth[i]!);
        }
      });
      expectClose(ranked.auroc(truth, counts), auroc(s, t), 'weighted auroc');
      expectClose(ranked.averagePrecision(truth, counts), averagePrecision(s, t), 'weighted ap');
    });
  });
});

describe('AUROC and AP by hand', () => {
  it('counts a tie between a positive and a negative as one half', () => {
    // pairs (pos, neg): (0.8, 0.5) win, (0.8, 0.8) tie, (0.3, 0.5) loss, (0.3, 0.8) loss → 1.5 / 4
    expect(auroc([0.8, 0.3, 0.5, 0.8], [1, 1, 0, 0])).toBe(0.375);
  });

  it('AP steps over tied groups without interpolation', () => {
    // thresholds 0.9 (1 TP: P=1, R=1/2), 0.4 (group of TP+FP: P=2/3, R=1) → 1/2·1 + 1/2·2/3
    expect(averagePrecision([0.9, 0.4, 0.4], [1, 1, 0])).toBeCloseTo(0.5 + 1 / 3, 15);
  });

  it('is undefined for one class', () => {
    expect(auroc([0.1, 0.2], [1, 1])).toBeNull();
    expect(averagePrecision([0.1, 0.2], [0, 0])).toBeNull();
    expect(averagePrecision([0.1, 0.2], [1, 1])).toBe(1);
  });
});

describe('CRG', () => {
  it('matches a hand-worked case with every kind of count', () => {
    // 2 cases × 2 labels: X = 4; truth [1,0],[0,1]: A = 2; decisions [1,0],[1,0] (0.6 ≥ 0.5)
    // TP 1 (case 1 label 1), FN 1 (case 2 label 2), FP 1 (case 2 label 1)
    // r = (4−2)/(2·2) = 0.5, U = (4−2)/2 = 1, s = 0.5·1 − 0.5·1 − 1 = −1, CRG = 1/(2·1 + 1) = 1/3
    const result = crg(
      [
        [0.9, 0.6],
        [0.2, 0.3],
      ],
      [
        [1, 0],
        [0, 1],
      ],
    );
    expect(result).toEqual({ TP: 1, FN: 1, FP: 1, X: 4, A: 2, r: 0.5, U: 1, score_s: -1, CRG: 1 / 3 });
  });

  it('is 1 for perfect decisions and 1/3 for all-negative ones on rare positives', () => {
    // 3 cases × 2 labels: X = 6, one positive: A = 1, r = 5/2, U = 5/2
    const truth = [
      [0, 1, 0],
      [0, 0, 0],
    ];
    // perfect (0.5 itself is a positive decision): s = r·1 = 2.5, CRG = 2.5/(5 − 2.5) = 1
    const perfect = crg(
      [
        [0.1, 0.5, 0.49],
        [0, 0, 0],
      ],
      truth,
    );
    expect(perfect.CRG).toBe(1);
    // nothing called: FN = 1, s = −2.5, CRG = 2.5/(5 + 2.5) = 1/3
    const none = crg(
      [
        [0.1, 0.2, 0.3],
        [0, 0, 0],
      ],
      truth,
    );
    expect(none.FN).toBe(1);
    expect(none.CRG).toBeCloseTo(1 / 3, 15);
    // one extra false positive: s = 2.5 − 1 = 1.5, CRG = 2.5/(5 − 1.5) = 5/7
    const onePlus = crg(
      [
        [0.1, 0.9, 0.3],
        [0.7, 0, 0],
      ],
      truth,
    );
    expect(onePlus.CRG).toBeCloseTo(5 / 7, 15);
  });

  it('is undefined without positives and 0 where the official script divides by zero', () => {
    expect(crg([[0.9]], [[0]]).CRG).toBeNull();
    // X = A: r = 0, U = 0, s = 0 → 0/0, reported as 0 like crg_score.py
    expect(crgFromCounts({ TP: 1, FN: 0, FP: 0, X: 1, A: 1 }).CRG).toBe(0);
  });
});

describe('threshold selection and folding', () => {
  const twoClassLabels = fixture.sets
    .filter((s) => s.weights === null)
    .flatMap((s) => s.labels.map((_, l) => ({ set: s, l })))
    .filter(({ set, l }) => set.per_label[l]!.best_f1 !== undefined);

  it('finds the best F1 and the best Youden J over every cut', () => {
    expect(twoClassLabels.length).toBeGreaterThan(10);
    for (const { set, l } of twoClassLabels) {
      const scores = set.scores[l]!;
      const truth = set.truth[l]!;
      const tF1 = selectThreshold(scores, truth, 'f1')!;
      expectClose(f1(confusionAt(scores, truth, tF1)), set.per_label[l]!.best_f1!, 'best f1');
      const tJ = selectThreshold(scores, truth, 'youden')!;
      const c = confusionAt(scores, truth, tJ);
      expectClose(c.tp / (c.tp + c.fn) - c.fp / (c.fp + c.tn), set.per_label[l]!.best_youden!, 'best youden');
      expect(tF1).toBeGreaterThan(0);
      expect(tF1).toBeLessThan(1);
    }
  });

  it('folding makes 0.5 decide as the threshold did and leaves AUROC and AP unchanged', () => {
    for (const { set, l } of twoClassLabels) {
      const scores = set.scores[l]!;
      const truth = set.truth[l]!;
      const t = selectThreshold(scores, truth, 'f1')!;
      const folded = foldScores(scores, t);
      expect(auroc(folded, truth)).toBe(auroc(scores, truth));
      expect(averagePrecision(folded, truth)).toBe(averagePrecision(scores, truth));
      expect(confusionAt(folded, truth, 0.5)).toEqual(confusionAt(scores, truth, t));
      for (const p of folded) expect(p >= 0 && p <= 1).toBe(true);
    }
  });

  it('per-label thresholds folded into the scores give the best F1 of every label at a fixed 0.5', () => {
    const set = fixture.sets[2]!;
    const folded = foldAll(set.scores, selectThresholds(set, 'f1'));
    const result = evaluate({ labels: set.labels, scores: folded, truth: set.truth }, 0.5);
    set.labels.forEach((label, l) => {
      const best = set.per_label[l]!.best_f1;
      if (best === undefined) expect(result.perLabel[l]!.auroc).toBeNull();
      else expectClose(result.perLabel[l]!.f1, best, `${label} f1 after folding`);
      expectClose(result.perLabel[l]!.auroc, set.per_label[l]!.auroc, `${label} auroc after folding`);
    });
  });

  it('maps [0,t] onto [0,0.5] and [t,1] onto [0.5,1], and unfolds back', () => {
    expect(foldThreshold(0, 0.2)).toBe(0);
    expect(foldThreshold(0.2, 0.2)).toBe(0.5);
    expect(foldThreshold(0.1, 0.2)).toBe(0.25);
    expect(foldThreshold(0.6, 0.2)).toBe(0.75);
    expect(foldThreshold(1, 0.2)).toBe(1);
    expect(unfoldThreshold(foldThreshold(0.37, 0.8), 0.8)).toBeCloseTo(0.37, 14);
    expect(() => foldThreshold(0.3, 0)).toThrow(/threshold/);
  });

  it('crg thresholds reach the best pooled CRG at a fixed 0.5 that any per-label cuts can (brute force)', () => {
    // Three labels of very different prevalence: CRG pools them, so a rare label's cut is not its own Youden cut.
    const rand = new Random(7);
    const n = 9;
    const prevalence = [0.15, 0.45, 0.75];
    const truth = prevalence.map((p) => Uint8Array.from({ length: n }, () => (rand.next() < p ? 1 : 0)));
    for (const t of truth) {
      t[0] = 1; // both classes in every label
      t[1] = 0;
    }
    const scores = truth.map((t) =>
      Float64Array.from(t, (y) => Math.min(0.99, Math.max(0.01, 0.25 * y + 0.75 * rand.next()))),
    );
    const crgAt = (thresholds: readonly (number | null)[]) => crg(foldAll(scores, thresholds), truth, 0.5).CRG!;
    // Every cut of every label: above all scores, and just below each distinct score.
    const cuts = scores.map((s) => [1 - 1e-9, ...Array.from(new Set(s)).map((x) => x - 1e-9)]);
    let best = Number.NEGATIVE_INFINITY;
    for (const a of cuts[0]!)
      for (const b of cuts[1]!) for (const c of cuts[2]!) best = Math.max(best, crgAt([a, b, c]));
    const chosen = crgAt(selectThresholds({ scores, truth }, 'crg'));
    expect(Math.abs(chosen - best)).toBeLessThan(1e-12);
    // The per-label criteria are not that optimum here (so the pooled weighting is what finds it).
    expect(crgAt(selectThresholds({ scores, truth }, 'youden'))).toBeLessThan(best - 1e-9);
    // CRG = 1/(3 − 2J) with J pooled over every (case, label) slot.
    const folded = foldAll(scores, selectThresholds({ scores, truth }, 'crg'));
    let tp = 0;
    let fp = 0;
    let P = 0;
    for (const [l, t] of truth.entries()) {
      for (const [i, y] of t.entries()) {
        const yes = folded[l]![i]! >= 0.5;
        if (y) {
          P++;
          if (yes) tp++;
        } else if (yes) fp++;
      }
    }
    expectClose(chosen, 1 / (3 - 2 * (tp / P - fp / (3 * n - P))), 'CRG = 1/(3 - 2J)');
  });

  it('gives no threshold for a one-class validation label and then leaves scores alone', () => {
    expect(selectThreshold([0.2, 0.7], [0, 0], 'f1')).toBeNull();
    expect(Array.from(foldScores([0.2, 0.7], null))).toEqual([0.2, 0.7]);
  });
});

describe('bootstrap', () => {
  it('interpolates percentiles like NumPy', () => {
    for (const q of fixture.quantiles) {
      const sorted = Float64Array.from(q.values).sort();
      q.q.forEach((p, k) => {
        expectClose(quantileSorted(sorted, p), q.expected[k]!, `q${p} of ${q.values.length}`);
      });
    }
  });

  it('resamples n cases per draw, the same ones for the same seed', () => {
    const draws = (seed: number) => {
      const out: number[][] = [];
      forEachResample(20, { iterations: 4, seed }, (c) => out.push(Array.from(c)));
      return out;
    };
    const a = draws(1);
    for (const counts of a) expect(counts.reduce((x, y) => x + y, 0)).toBe(20);
    expect(draws(1)).toEqual(a);
    expect(draws(2)).not.toEqual(a);
  });

  it('gives intervals around the estimate, dropping resamples where a metric is undefined', () => {
    const set = fixture.sets[2]!;
    const point = evaluate(set, 0.5);
    const ci = bootstrapIntervals(set, 0.5, { iterations: 200, seed: 3 });
    expect(ci.perLabel[0]!.auroc).toBeNull(); // never defined: no positive at all
    for (const name of METRIC_NAMES) {
      const interval = ci.macro[name]!;
      expect(interval.lo).toBeLessThanOrEqual(point.macro[name]!);
      expect(interval.hi).toBeGreaterThanOrEqual(point.macro[name]!);
      expect(interval.hi - interval.lo).toBeLessThan(0.3);
    }
    expect(ci.crg!.lo).toBeLessThanOrEqual(point.crg.CRG!);
    expect(ci.crg!.hi).toBeGreaterThanOrEqual(point.crg.CRG!);
    expect(bootstrapIntervals(set, 0.5, { iterations: 200, seed: 3 })).toEqual(ci);
    expect(percentileInterval([null, null])).toBeNull();
  });
});
