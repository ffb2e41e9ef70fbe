import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { reliabilityBins, rocCurve } from './curves.js';

interface CurveSet {
  bins: number;
  scores: number[];
  truth: number[];
  roc: { fpr: number[]; tpr: number[]; thresholds: (number | null)[] };
  calibration: { fraction_positive: number[]; mean_predicted: number[] };
}
const FIXTURE = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../fixtures/metrics/curves.json', import.meta.url)), 'utf8'),
) as { sklearn: string; sets: CurveSet[] };

describe('ROC and reliability curves against scikit-learn (fixtures/metrics/make_curves.py)', () => {
  for (const [k, set] of FIXTURE.sets.entries()) {
    it(`set ${k}: roc_curve(drop_intermediate=False) and calibration_curve(n_bins=${set.bins})`, () => {
      const roc = rocCurve(set.scores, set.truth)!;
      expect(roc.fpr.length).toBe(set.roc.fpr.length);
      expect(roc.fpr).toEqual(set.roc.fpr.map((v) => expect.closeTo(v, 12)));
      expect(roc.tpr).toEqual(set.roc.tpr.map((v) => expect.closeTo(v, 12)));
      // The first threshold is "above every score": +∞ here and in scikit-learn ≥ 1.3, max + 1 before.
      expect(roc.thresholds.slice(1)).toEqual(set.roc.thresholds.slice(1));
      const bins = reliabilityBins(set.scores, set.truth, set.bins);
      expect(bins.map((b) => b.fractionPositive)).toEqual(
        set.calibration.fraction_positive.map((v) => expect.closeTo(v, 12)),
      );
      expect(bins.map((b) => b.meanPredicted)).toEqual(
        set.calibration.mean_predicted.map((v) => expect.closeTo(v, 12)),
      );
      expect(bins.reduce((n, b) => n + b.count, 0)).toBe(set.scores.length);
    });
  }

  it('an ROC curve needs both classes', () => {
    expect(rocCurve([0.2, 0.4], [1, 1])).toBeNull();
  });
});
