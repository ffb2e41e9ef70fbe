import type { PlotSpec } from './render.js';

/** One benchmark cell's test AUROC with its bootstrap interval. */
export interface ComparisonPoint {
  task: string;
  backbone: string;
  mode: string;
  auroc: number;
  lo: number;
  hi: number;
}

/** What each mode is, in words, for legends. */
const MODE_NAMES: Record<string, string> = {
  probe: 'probe: slice mean + linear head',
  attn: 'attn: frozen tokens + task-query pooling',
  lora: 'lora: LoRA + task query + head (the method)',
};
const modeName = (mode: string) => MODE_NAMES[mode] ?? mode;

/** Okabe–Ito, colour-blind safe; modes keep their colour across plots. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#F0E442', '#000000'];

/**
 * Test AUROC per task (x, named), one dot per backbone × mode side by side within the task
 * (colour = mode, shape = backbone, both in the legend), whiskers = 95% case-bootstrap interval.
 */
export function comparisonPlotSpec(points: readonly ComparisonPoint[], title = 'Test AUROC per task'): PlotSpec {
  const values = points.map((p) => ({ ...p, arm: `${p.mode} · ${p.backbone}`, modeName: modeName(p.mode) }));
  const floor = Math.max(0, Math.min(0.5, ...points.map((p) => Math.floor(p.lo * 10) / 10)));
  const modes = [...new Set(points.map((p) => p.mode))];
  const tasks = [...new Set(points.map((p) => p.task))];
  const y = {
    field: 'auroc',
    type: 'quantitative' as const,
    title: 'Test AUROC and 95% interval',
    scale: { domain: [floor, 1] },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: `${points.length} cells: ${tasks.length} task(s) × backbone × mode; intervals from resampling the test cases`,
    },
    data: { values },
    width: Math.max(260, 30 * new Set(values.map((v) => v.arm)).size * tasks.length + 40),
    height: 320,
    encoding: {
      x: { field: 'task', type: 'nominal', title: 'Task', sort: tasks, axis: { labelAngle: 0 } },
      xOffset: { field: 'arm', type: 'nominal' },
      color: {
        field: 'modeName',
        type: 'nominal',
        title: 'Mode',
        sort: modes.map(modeName),
        scale: { range: PALETTE },
      },
    },
    layer: [
      {
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: { y: { ...y, field: 'lo' }, y2: { field: 'hi' } },
      },
      {
        mark: { type: 'point', filled: true, size: 90, opacity: 1 },
        encoding: {
          y,
          shape: { field: 'backbone', type: 'nominal', title: 'Backbone' },
          tooltip: [
            { field: 'task' },
            { field: 'backbone' },
            { field: 'mode' },
            { field: 'auroc', format: '.3f' },
            { field: 'lo', format: '.3f' },
            { field: 'hi', format: '.3f' },
          ],
        },
      },
    ],
  } as PlotSpec;
}

/** One paired comparison on one task (or the mean over tasks): A − B with its interval. */
export interface DifferencePoint {
  comparison: string;
  task: string;
  difference: number;
  lo: number;
  hi: number;
  p: number | null;
}

/**
 * Paired AUROC differences A − B per comparison (rows) and task (colour), with 95% paired
 * bootstrap intervals and a line at zero: right of it, A is better.
 */
export function differencesPlotSpec(points: readonly DifferencePoint[], title = 'Paired AUROC differences'): PlotSpec {
  const values = points.map((p) => ({ ...p, pText: p.p === null ? 'n/a' : p.p.toFixed(3) }));
  const reach = Math.max(0.05, ...points.flatMap((p) => [Math.abs(p.lo), Math.abs(p.hi)]));
  const bound = Math.ceil(reach * 20) / 20;
  const x = {
    field: 'difference',
    type: 'quantitative' as const,
    title: 'AUROC difference A − B and 95% paired bootstrap interval',
    scale: { domain: [-bound, bound] },
    axis: { tickCount: 5, format: '+.2f' },
  };
  const rows = [...new Set(points.map((p) => p.comparison))];
  const rowsEncoding = {
    y: { field: 'comparison', type: 'nominal', title: null, sort: rows, axis: { labelLimit: 0 } },
    yOffset: { field: 'task', type: 'nominal' },
    color: { field: 'task', type: 'nominal', title: 'Task', scale: { range: PALETTE } },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: 'Each row: A − B scored on the same test cases; right of the dashed zero line, A scores higher',
    },
    data: { values },
    width: 420,
    height: Math.max(120, 24 * rows.length * new Set(points.map((p) => p.task)).size),
    layer: [
      {
        // Its own datum and no row encoding, so the line spans the whole plot.
        mark: { type: 'rule', color: '#333', strokeDash: [5, 4], strokeWidth: 1.5 },
        encoding: { x: { datum: 0, type: 'quantitative' } },
      },
      {
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: { ...rowsEncoding, x: { ...x, field: 'lo' }, x2: { field: 'hi' } },
      },
      {
        mark: { type: 'point', filled: true, size: 80, opacity: 1 },
        encoding: {
          ...rowsEncoding,
          x,
          tooltip: [
            { field: 'comparison' },
            { field: 'task' },
            { field: 'difference', format: '.3f' },
            { field: 'pText', title: 'p' },
          ],
        },
      },
    ],
  } as unknown as PlotSpec;
}
