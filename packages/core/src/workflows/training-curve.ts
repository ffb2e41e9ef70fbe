import { type PlotFiles, trainingCurveSpec, writePlot } from '../plot/index.js';
import type { Fitted } from './fit-result.js';

/** `training-curve.{png,svg,vl.json}` in `dir`: every schedule of the fit, the kept candidate marked. */
export async function writeTrainingCurve(dir: string, fitted: Fitted, mode: 'frozen' | 'lora'): Promise<PlotFiles> {
  const name = (lr: number | undefined) =>
    mode === 'lora' ? 'LoRA + query + head' : lr === undefined ? 'head (default lr)' : `head lr ${lr}`;
  const curves = fitted.curves.map((c) => ({ name: name(c.lr), losses: c.losses, candidates: c.candidates }));
  return writePlot(
    dir,
    'training-curve',
    trainingCurveSpec(curves, { name: name(fitted.chosen.lr), steps: fitted.chosen.steps }),
  );
}
