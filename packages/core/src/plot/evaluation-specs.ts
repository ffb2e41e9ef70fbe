import type { PlotSpec } from './render.js';

/** One label's ROC curve and where its decision threshold puts it. */
export interface RocSeries {
  label: string;
  auroc: number;
  fpr: readonly number[];
  tpr: readonly number[];
  /** The operating point at the decision threshold (score ≥ threshold is positive). */
  operating: { fpr: number; tpr: number; threshold: number };
}

/** One label's reliability bins. */
export interface ReliabilitySeries {
  label: string;
  bins: readonly { meanPredicted: number; fractionPositive: number; count: number }[];
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const unitAxis = (title: string) => ({ title, scale: { domain: [0, 1] }, axis: { tickCount: 5 } });

/** ROC curves, one line per label named with its AUROC, the chance diagonal, the operating points. */
export function rocPlotSpec(series: readonly RocSeries[], cases: number): PlotSpec {
  const name = (s: RocSeries) => `${s.label} (AUROC ${s.auroc.toFixed(3)})`;
  const curve = series.flatMap((s) => s.fpr.map((fpr, i) => ({ series: name(s), fpr, tpr: s.tpr[i]!, order: i })));
  const points = series.map((s) => ({ series: name(s), ...s.operating }));
  const threshold = series[0]?.operating.threshold;
  const names = series.map(name);
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'Label',
    sort: names,
    scale: { scheme: names.length > 10 ? 'category20' : 'tableau10' },
  };
  return {
    $schema: SCHEMA,
    title: {
      text: 'ROC curve per label',
      subtitle: `${cases} cases; dot = operating point at threshold ${threshold?.toFixed(3) ?? '–'}; dashed = chance`,
    },
    width: 360,
    height: 360,
    layer: [
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', color: '#888', strokeDash: [5, 4] },
        encoding: {
          x: { field: 'x', type: 'quantitative', ...unitAxis('False positive rate (1 − specificity)') },
          y: { field: 'y', type: 'quantitative', ...unitAxis('True positive rate (sensitivity)') },
        },
      },
      {
        data: { values: curve },
        mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
        encoding: {
          x: { field: 'fpr', type: 'quantitative' },
          y: { field: 'tpr', type: 'quantitative' },
          order: { field: 'order', type: 'quantitative' },
          color,
        },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70, stroke: 'black', strokeWidth: 0.8 },
        encoding: {
          x: { field: 'fpr', type: 'quantitative' },
          y: { field: 'tpr', type: 'quantitative' },
          color,
          tooltip: [{ field: 'series' }, { field: 'threshold' }, { field: 'fpr' }, { field: 'tpr' }],
        },
      },
    ],
  } as unknown as PlotSpec;
}

/**
 * Reliability diagrams, one panel per label: observed fraction positive against mean predicted
 * probability per equal-width bin (dot size = cases in the bin); on the diagonal is calibrated.
 */
export function reliabilityPlotSpec(series: readonly ReliabilitySeries[], bins: number): PlotSpec {
  const values = series.flatMap((s) => [
    ...s.bins.map((b) => ({ label: s.label, kind: 'bin', ...b })),
    { label: s.label, kind: 'diagonal', meanPredicted: 0, fractionPositive: 0, count: 0 },
    { label: s.label, kind: 'diagonal', meanPredicted: 1, fractionPositive: 1, count: 0 },
  ]);
  const x = { field: 'meanPredicted', type: 'quantitative', ...unitAxis('Mean predicted probability') };
  const y = { field: 'fractionPositive', type: 'quantitative', ...unitAxis('Observed fraction positive') };
  return {
    $schema: SCHEMA,
    title: {
      text: 'Reliability diagram per label',
      subtitle: `${bins} equal-width bins; dot area = cases in the bin; dashed diagonal = perfectly calibrated`,
    },
    data: { values },
    columns: Math.min(4, series.length),
    facet: { field: 'label', type: 'nominal', title: null, sort: series.map((s) => s.label) },
    spec: {
      width: 200,
      height: 200,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'diagonal'" }],
          mark: { type: 'line', color: '#888', strokeDash: [5, 4] },
          encoding: { x, y },
        },
        {
          transform: [{ filter: "datum.kind === 'bin'" }],
          mark: { type: 'line', color: '#0072B2', point: false },
          encoding: { x, y },
        },
        {
          transform: [{ filter: "datum.kind === 'bin'" }],
          mark: { type: 'point', filled: true, color: '#0072B2' },
          encoding: {
            x,
            y,
            size: {
              field: 'count',
              type: 'quantitative',
              title: 'Cases in bin',
              scale: { range: [20, 300], zero: false },
            },
            tooltip: [
              { field: 'meanPredicted', format: '.3f' },
              { field: 'fractionPositive', format: '.3f' },
              { field: 'count' },
            ],
          },
        },
      ],
    },
  } as unknown as PlotSpec;
}
