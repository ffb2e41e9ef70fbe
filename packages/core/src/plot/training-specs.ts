import type { PlotSpec } from './render.js';

/** One schedule of a fit, as the plot needs it. */
export interface TrainingCurve {
  /** Legend name of the schedule, e.g. "head lr 0.01" or "LoRA". */
  name: string;
  losses: readonly { step: number; loss: number }[];
  candidates: readonly { steps: number; valAuroc: number | null }[];
}

/**
 * How a fit went: training loss per optimiser step (top) and validation AUROC at each candidate
 * step (bottom), one colour per schedule, the candidate kept ringed and labelled.
 */
export function trainingCurveSpec(curves: readonly TrainingCurve[], chosen: { name: string; steps: number }): PlotSpec {
  const losses = curves.flatMap((c) => c.losses.map((l) => ({ schedule: c.name, ...l })));
  const candidates = curves.flatMap((c) =>
    c.candidates
      .filter((x) => x.valAuroc !== null)
      .map((x) => ({
        schedule: c.name,
        steps: x.steps,
        valAuroc: x.valAuroc,
        chosen: c.name === chosen.name && x.steps === chosen.steps,
      })),
  );
  const names = curves.map((c) => c.name);
  const color = { field: 'schedule', type: 'nominal', title: 'Schedule', sort: names, scale: { scheme: 'tableau10' } };
  const maxStep = Math.max(1, ...losses.map((l) => l.step), ...candidates.map((c) => c.steps));
  const x = { type: 'quantitative', title: 'Optimiser step', scale: { domain: [0, maxStep] } };
  const picked = candidates.find((c) => c.chosen);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Training curve',
      subtitle: picked
        ? `kept: ${chosen.name} at step ${chosen.steps} (validation AUROC ${picked.valAuroc!.toFixed(3)}), the best on validation`
        : `kept: ${chosen.name} at step ${chosen.steps}`,
    },
    vconcat: [
      {
        width: 480,
        height: 180,
        data: { values: losses },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'step', ...x, title: null },
          y: { field: 'loss', type: 'quantitative', title: 'Training loss (per step)', scale: { zero: false } },
          color,
        },
      },
      {
        width: 480,
        height: 160,
        data: { values: candidates },
        layer: [
          {
            mark: { type: 'line', point: { filled: true, size: 60 } },
            encoding: {
              x: { field: 'steps', ...x },
              y: { field: 'valAuroc', type: 'quantitative', title: 'Validation AUROC', scale: { zero: false } },
              color,
            },
          },
          {
            transform: [{ filter: 'datum.chosen' }],
            mark: { type: 'point', size: 320, strokeWidth: 2.5, color: 'black', filled: false },
            encoding: { x: { field: 'steps', ...x }, y: { field: 'valAuroc', type: 'quantitative' } },
          },
          {
            transform: [{ filter: 'datum.chosen' }],
            mark: { type: 'text', dy: -18, fontWeight: 'bold', fontSize: 12 },
            encoding: {
              x: { field: 'steps', ...x },
              y: { field: 'valAuroc', type: 'quantitative' },
              text: { value: 'kept' },
            },
          },
        ],
      },
    ],
    resolve: { scale: { color: 'shared' } },
  } as unknown as PlotSpec;
}
