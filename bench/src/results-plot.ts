/**
 * The headline ratios of bench/RESULTS.md over time, drawn from its own rows: every "- Ratio:"
 * line of every dated section, one panel per benchmark, one line per measured quantity; the
 * marker says whether the Python peer ran at its best (this machine's OpenBLAS override removed)
 * or with the override that slowed it (the rows before 2026-12-03).
 *
 * `node bench/dist/draw-ratios.js` redraws bench/ratios-over-time.{png,svg,vl.json} by hand; every
 * appendResults redraws it too.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type PlotFiles, type PlotSpec, writePlot } from '@anymc3d/core/plot';

export interface RatioPoint {
  benchmark: string;
  /** ISO date-time of the section (UTC). */
  time: string;
  quantity: string;
  value: number;
  peer: 'at its best' | 'with the Haswell override' | 'no Python peer';
}

const SECTION = /^## (.+?) — (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC$/;
const RATIO = /^- Ratio: (.*?)\s*[:=]\s*([\d.]+)/;

/** Every ratio line of a RESULTS.md, with its section's title and time. */
export function ratioPoints(markdown: string): RatioPoint[] {
  const points: RatioPoint[] = [];
  const sections = markdown.split(/\n(?=## )/);
  for (const section of sections) {
    const lines = section.split('\n');
    const head = SECTION.exec(lines[0] ?? '');
    if (!head) continue;
    const [, fullTitle, time] = head;
    // Titles were reworded over time ("… (DINOv2 graph …)" → "… (graphs …)"): one series per benchmark.
    const title = fullTitle!.split(/ \(|: /)[0]!;
    const peer = /OPENBLAS_CORETYPE[^\n]*removed/.test(section)
      ? 'at its best'
      : /PyTorch|OpenBLAS|scikit-learn|nibabel/.test(section)
        ? 'with the Haswell override'
        : 'no Python peer';
    for (const line of lines) {
      const m = RATIO.exec(line);
      if (!m || !Number.isFinite(Number(m[2]))) continue;
      points.push({
        benchmark: title!,
        time: `${time!.replace(' ', 'T')}:00Z`,
        quantity: m[1]!,
        value: Number(m[2]),
        peer,
      });
    }
  }
  return points;
}

export function ratiosSpec(points: readonly RatioPoint[]): PlotSpec {
  const benchmarks = [...new Set(points.map((p) => p.benchmark))];
  // One chart per benchmark, each with its own legend: the quantities of one benchmark are few
  // and only readable next to their own lines. Runs are evenly spaced (ordinal): most fall on a
  // handful of days, which a time axis would squeeze into a few columns.
  const panel = (benchmark: string) => ({
    title: { text: benchmark, anchor: 'start', fontSize: 13 },
    data: {
      values: points
        .filter((p) => p.benchmark === benchmark)
        .map((p) => ({ ...p, run: p.time.slice(0, 16).replace('T', ' ') })),
    },
    width: 360,
    height: 120,
    mark: { type: 'line', point: { filled: true, size: 55 } },
    encoding: {
      x: { field: 'run', type: 'ordinal', title: 'Run (UTC)', axis: { labelAngle: -30 } },
      y: { field: 'value', type: 'quantitative', title: 'Ratio', scale: { zero: false } },
      color: { field: 'quantity', type: 'nominal', title: 'Ratio row', legend: { labelLimit: 0, columns: 1 } },
      shape: { field: 'peer', type: 'nominal', title: 'Python peer', scale: { domain: PEERS } },
      tooltip: [{ field: 'quantity' }, { field: 'value' }, { field: 'run' }, { field: 'peer' }],
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'bench/RESULTS.md: headline ratios over time',
      subtitle:
        'one chart per benchmark, one line per "Ratio:" row (its text says what over what); marker = how the Python peer ran',
    },
    vconcat: benchmarks.map(panel),
    resolve: { scale: { color: 'independent', shape: 'shared' }, legend: { color: 'independent' } },
  } as unknown as PlotSpec;
}

const PEERS: RatioPoint['peer'][] = ['at its best', 'with the Haswell override', 'no Python peer'];

/** Redraws the picture beside a RESULTS.md from its rows. */
export async function writeRatiosPlot(resultsPath: string): Promise<PlotFiles> {
  const points = ratioPoints(await readFile(resultsPath, 'utf8'));
  return writePlot(dirname(resultsPath), 'ratios-over-time', ratiosSpec(points));
}
