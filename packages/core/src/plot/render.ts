import { existsSync } from 'node:fs';
import { renderAsync } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * Plots are Vega-Lite specs rendered in Node: vega draws SVG (no browser, no canvas), resvg
 * rasterises it to PNG. The spec is kept next to both so a reader can restyle the plot in any
 * Vega-Lite editor. Text is set in DejaVu Sans (Debian's fonts-dejavu-core), the font a fresh
 * machine has, so sizes measured when laying out match those drawn.
 */
export type PlotSpec = TopLevelSpec;

export const PLOT_FONT = 'DejaVu Sans';
const FONT_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/** The look every plot shares: readable sizes, the one font, a white background. */
export const PLOT_CONFIG = {
  font: PLOT_FONT,
  background: 'white',
  title: { fontSize: 15, anchor: 'start' as const, subtitleFontSize: 12, subtitleColor: '#444' },
  axis: { labelFontSize: 12, titleFontSize: 13, grid: true, gridColor: '#e5e5e5' },
  legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 0 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: '#bbb' },
};

/** A spec → SVG text (vega's own renderer; fonts named, not embedded). */
export async function plotSvg(spec: PlotSpec): Promise<string> {
  const compiled = compile({ ...spec, config: { ...PLOT_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * SVG → PNG at `scale` (2 = crisp on high-density screens and in print). Fonts: DejaVu where the
 * machine has it, else whatever the system offers; a machine with no fonts draws no text, so say so.
 * Drawn on libuv's thread pool, not the main thread: a CT montage takes resvg about half a second,
 * which then overlaps the heatmap's NIfTI write instead of holding up its compression.
 */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  const fontFiles = FONT_FILES.filter((f) => existsSync(f));
  const rendered = await renderAsync(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { fontFiles, loadSystemFonts: fontFiles.length === 0, defaultFontFamily: PLOT_FONT },
    background: 'white',
  });
  return new Uint8Array(rendered.asPng());
}

export interface RenderedPlot {
  spec: PlotSpec;
  svg: string;
  png: Uint8Array;
}

export async function renderPlot(spec: PlotSpec): Promise<RenderedPlot> {
  const svg = await plotSvg(spec);
  return { spec, svg, png: await svgToPng(svg) };
}
