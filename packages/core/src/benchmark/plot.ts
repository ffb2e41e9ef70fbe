import { PNG } from 'pngjs';

/** One point of a series in one group: a value and its interval (null: not run or not supported). */
export interface PlotPoint {
  value: number;
  lo: number;
  hi: number;
}

export interface DotPlot {
  /** One group per task (left to right). */
  groups: string[];
  /** One series per (backbone, mode); `points[g]` is its point in group g. */
  series: { name: string; points: (PlotPoint | null)[] }[];
  /** Value axis range; ticks every `tick`, labelled with their value. */
  range: [number, number];
  tick: number;
}

/** Colour-blind-safe palette (Okabe–Ito), one per series; the Markdown legend names them. */
export const SERIES_COLOURS: readonly { name: string; rgb: [number, number, number] }[] = [
  { name: 'blue', rgb: [0, 114, 178] },
  { name: 'orange', rgb: [230, 159, 0] },
  { name: 'green', rgb: [0, 158, 115] },
  { name: 'vermilion', rgb: [213, 94, 0] },
  { name: 'sky blue', rgb: [86, 180, 233] },
  { name: 'reddish purple', rgb: [204, 121, 167] },
  { name: 'yellow', rgb: [240, 228, 66] },
  { name: 'black', rgb: [0, 0, 0] },
];

// 3×5 glyphs for tick labels: digits, '.', '-'. Each row is 3 bits, left bit first.
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '-': [0, 0, 7, 0, 0],
};

class Canvas {
  readonly png: PNG;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  pixel(x: number, y: number, [r, g, b]: readonly number[], alpha = 1): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    const d = this.png.data;
    d[i] = Math.round(d[i]! * (1 - alpha) + r! * alpha);
    d[i + 1] = Math.round(d[i + 1]! * (1 - alpha) + g! * alpha);
    d[i + 2] = Math.round(d[i + 2]! * (1 - alpha) + b! * alpha);
  }

  rect(x0: number, y0: number, x1: number, y1: number, rgb: readonly number[], alpha = 1): void {
    for (let y = Math.round(Math.min(y0, y1)); y <= Math.round(Math.max(y0, y1)); y++)
      for (let x = Math.round(Math.min(x0, x1)); x <= Math.round(Math.max(x0, x1)); x++) this.pixel(x, y, rgb, alpha);
  }

  text(x: number, y: number, s: string, scale: number, rgb: readonly number[]): void {
    for (const [k, ch] of [...s].entries()) {
      const rows = GLYPHS[ch];
      if (!rows) continue;
      rows.forEach((bits, r) => {
        for (let c = 0; c < 3; c++) {
          if (bits & (4 >> c)) {
            const px = x + (k * 4 + c) * scale;
            this.rect(px, y + r * scale, px + scale - 1, y + (r + 1) * scale - 1, rgb);
          }
        }
      });
    }
  }
}

/**
 * A dot-and-whisker chart: one group per task, one coloured column per series, the dot at the
 * value and a whisker over its interval, light grid lines with numeric tick labels on the left.
 * Names are not drawn (no font here): the Markdown beside it gives the legend by colour and the
 * groups in order.
 */
export function renderDotPlot(plot: DotPlot): Uint8Array {
  const S = Math.max(1, plot.series.length);
  // Wider columns when there are few, so a one-task plot is still a comfortable size.
  const column = Math.min(48, Math.max(18, Math.floor(240 / (S * Math.max(1, plot.groups.length)))));
  const groupWidth = S * column + 24;
  const left = 44;
  const top = 16;
  const plotHeight = 300;
  const width = left + Math.max(1, plot.groups.length) * groupWidth + 16;
  const height = top + plotHeight + 24;
  const c = new Canvas(width, height);
  const [lo, hi] = plot.range;
  const yOf = (v: number) => top + plotHeight * (1 - (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo));
  const grey: [number, number, number] = [200, 200, 200];
  const ink: [number, number, number] = [60, 60, 60];
  const ticks = Math.round((hi - lo) / plot.tick);
  for (let t = 0; t <= ticks; t++) {
    const v = lo + t * plot.tick;
    const y = yOf(v);
    c.rect(left, y, width - 16, y, grey);
    const label = v.toFixed(plot.tick < 0.1 ? 2 : 1);
    c.text(left - 6 - label.length * 8, y - 5, label, 2, ink);
  }
  c.rect(left, top, left, top + plotHeight, ink);
  c.rect(left, top + plotHeight, width - 16, top + plotHeight, ink);
  plot.groups.forEach((_, g) => {
    const x0 = left + g * groupWidth + 12;
    if (g > 0) c.rect(x0 - 12, top, x0 - 12, top + plotHeight, [230, 230, 230]);
    // The group's number under its columns (the Markdown lists the tasks in this order).
    c.text(x0 + (S * column) / 2 - 4, top + plotHeight + 8, String(g + 1), 2, ink);
    plot.series.forEach((series, s) => {
      const p = series.points[g];
      if (!p) return;
      const rgb = SERIES_COLOURS[s % SERIES_COLOURS.length]!.rgb;
      const x = x0 + s * column + column / 2;
      c.rect(x - column / 3, yOf(p.value), x + column / 3, top + plotHeight - 1, rgb, 0.18);
      c.rect(x, yOf(p.hi), x, yOf(p.lo), rgb);
      c.rect(x - 3, yOf(p.hi), x + 3, yOf(p.hi), rgb);
      c.rect(x - 3, yOf(p.lo), x + 3, yOf(p.lo), rgb);
      c.rect(x - 3, yOf(p.value) - 3, x + 3, yOf(p.value) + 3, rgb);
    });
  });
  return new Uint8Array(PNG.sync.write(c.png));
}
