import { confusionAt } from '../metrics/confusion.js';
import { reliabilityBins, rocCurve } from '../metrics/curves.js';
import type { LabelledScores } from '../metrics/evaluate.js';
import { type RocSeries, reliabilityPlotSpec, rocPlotSpec } from './evaluation-specs.js';
import { type PlotFiles, writePlot } from './write.js';

/**
 * `roc.{png,svg,vl.json}` and `reliability.{png,svg,vl.json}` for scored cases. Labels with one
 * class only have no ROC curve and are left out of it (named in `skipped`).
 */
export async function writeEvaluationPlots(
  dir: string,
  data: LabelledScores,
  threshold: number,
  bins = 10,
): Promise<{ roc?: PlotFiles; reliability: PlotFiles; skipped: string[] }> {
  const series: RocSeries[] = [];
  const skipped: string[] = [];
  data.labels.forEach((label, l) => {
    const scores = data.scores[l]!;
    const truth = data.truth[l]!;
    const curve = rocCurve(scores, truth);
    if (!curve) {
      skipped.push(label);
      return;
    }
    const c = confusionAt(scores, truth, threshold);
    // The trapezoid under the curve is the AUROC (ties count one half), so it is measured here from the curve itself.
    let area = 0;
    for (let i = 1; i < curve.fpr.length; i++)
      area += ((curve.fpr[i]! - curve.fpr[i - 1]!) * (curve.tpr[i]! + curve.tpr[i - 1]!)) / 2;
    series.push({
      label,
      auroc: area,
      fpr: curve.fpr,
      tpr: curve.tpr,
      operating: { fpr: c.fp / (c.fp + c.tn), tpr: c.tp / (c.tp + c.fn), threshold },
    });
  });
  const cases = data.scores[0]?.length ?? 0;
  const reliability = await writePlot(
    dir,
    'reliability',
    reliabilityPlotSpec(
      data.labels.map((label, l) => ({ label, bins: reliabilityBins(data.scores[l]!, data.truth[l]!, bins) })),
      bins,
    ),
  );
  return {
    ...(series.length ? { roc: await writePlot(dir, 'roc', rocPlotSpec(series, cases)) } : {}),
    reliability,
    skipped,
  };
}
