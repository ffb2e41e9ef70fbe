import { PNG } from 'pngjs';
import { svgToPng } from '../plot/render.js';
import { escapeMarkup } from '../util/markup.js';
import { type ColormapName, colormapLut } from './colormap.js';
import { topSlicesAlong } from './slice-heat.js';

/** A stack of 2D slices, [S, H, W] row-major, values in [0, 1]. */
export interface SliceStack {
  data: Float32Array;
  slices: number;
  height: number;
  width: number;
}

export interface MontageOptions {
  /** How many slices per row, chosen by total heat (the most-attended slices). */
  count?: number;
  colormap?: ColormapName;
  /** Overlay strength at full heat. */
  opacity?: number;
  /** Heat below this is not drawn, so the anatomy stays readable. */
  floor?: number;
  /** Longest side of a tile on the page, in px (before the 2× PNG scale). */
  tile?: number;
}

/** One row of the montage: a view, its slices of the image and of the heatmap along its axis. */
export interface MontageRow {
  /** Heading, e.g. "axial view (slices along k) · view weight 0.62". */
  label: string;
  /** The letter tile captions use for the slice index ("k = 47"). */
  indexName: string;
  image: SliceStack;
  heat: SliceStack;
  /**
   * When the stacks hold only chosen slices: their indices in the volume and the volume's slice
   * count (captions name the real index). Absent: the stacks are whole and the top slices are picked here.
   */
  indices?: readonly number[];
  total?: number;
  /** Physical height ÷ width of one pixel, so anisotropic slices are drawn to scale. */
  pixelAspect: number;
}

export interface MontageText {
  title: string;
  subtitle: string;
}

/** Indices of the `count` slices with the most heat, in slice order. */
export function topSlices(heat: SliceStack, count: number): number[] {
  return topSlicesAlong({ size: [heat.width, heat.height, heat.slices], data: heat.data }, 2, count)
    .map((t) => t.index)
    .sort((a, b) => a - b);
}

/** Slice `s` as PNG: the grey image, or the heatmap blended over it. */
function tilePng(
  image: SliceStack,
  heat: SliceStack,
  s: number,
  overlay: { lut: Uint8Array; opacity: number; floor: number } | null,
): string {
  const { width, height } = image;
  const png = new PNG({ width, height, colorType: 2 });
  const area = width * height;
  for (let i = 0; i < area; i++) {
    const g = Math.min(1, Math.max(0, image.data[s * area + i]!)) * 255;
    let rgb = [g, g, g];
    if (overlay) {
      const h = Math.min(1, Math.max(0, heat.data[s * area + i]!));
      const a = h >= overlay.floor ? overlay.opacity * h : 0;
      const c = Math.round(h * 255) * 3;
      rgb = [0, 1, 2].map((k) => (1 - a) * g + a * overlay.lut[c + k]!);
    }
    png.data[i * 4] = Math.round(rgb[0]!);
    png.data[i * 4 + 1] = Math.round(rgb[1]!);
    png.data[i * 4 + 2] = Math.round(rgb[2]!);
    png.data[i * 4 + 3] = 255;
  }
  return `data:image/png;base64,${PNG.sync.write(png, { colorType: 2 }).toString('base64')}`;
}

function meanHeat(heat: SliceStack, s: number): number {
  const area = heat.width * heat.height;
  let m = 0;
  for (let i = 0; i < area; i++) m += heat.data[s * area + i]!;
  return m / area;
}

// Rough advance width of DejaVu Sans per character at 1 px font size: enough to size the page.
const CHAR = 0.6;

/**
 * A montage a reader understands without the JSON: a title (case, plugin, label, probability,
 * threshold), then one row per view with its name and weight, each shown slice as the input
 * beside the heatmap over it, captioned with its index and mean heat, and a colour bar with
 * values. Drawn as SVG (text in DejaVu Sans), rasterised to PNG. Returns both and the slices shown.
 */
export function renderMontage(
  rows: readonly MontageRow[],
  text: MontageText,
  options: MontageOptions = {},
): { svg: string; png: Uint8Array; slices: number[][] } {
  for (const r of rows) {
    const { image, heat } = r;
    if (image.slices !== heat.slices || image.height !== heat.height || image.width !== heat.width) {
      throw new Error(
        `montage ${r.label}: image [${image.slices},${image.height},${image.width}] and heatmap [${heat.slices},${heat.height},${heat.width}] differ`,
      );
    }
  }
  const count = options.count ?? 4;
  const tile = options.tile ?? 150;
  const lut = colormapLut(options.colormap ?? 'inferno');
  const overlay = { lut, opacity: options.opacity ?? 0.6, floor: options.floor ?? 0.2 };
  const margin = 12;
  const pairGap = 16;
  const innerGap = 3;
  const parts: string[] = [];
  const shownPerRow: number[][] = [];
  let y = margin + 18;
  parts.push(`<text x="${margin}" y="${y}" font-size="16" font-weight="bold">${escapeMarkup(text.title)}</text>`);
  y += 18;
  parts.push(`<text x="${margin}" y="${y}" font-size="12" fill="#444">${escapeMarkup(text.subtitle)}</text>`);
  y += 10;
  let width = margin * 2 + CHAR * Math.max(16 * text.title.length, 12 * text.subtitle.length);
  for (const row of rows) {
    const { image, heat } = row;
    // Stack positions to draw, and the volume indices they stand for.
    const positions = row.indices ? row.indices.map((_, k) => k) : topSlices(heat, count);
    const shown = row.indices ? [...row.indices] : positions;
    shownPerRow.push(shown);
    const physicalH = image.height * row.pixelAspect;
    const scale = tile / Math.max(image.width, physicalH);
    const w = image.width * scale;
    const h = physicalH * scale;
    y += 22;
    parts.push(`<text x="${margin}" y="${y}" font-size="13" font-weight="bold">${escapeMarkup(row.label)}</text>`);
    y += 6;
    let x = margin;
    for (const [n, s] of positions.entries()) {
      for (const [k, href] of [tilePng(image, heat, s, null), tilePng(image, heat, s, overlay)].entries()) {
        parts.push(
          `<image x="${x + k * (w + innerGap)}" y="${y}" width="${w}" height="${h}" preserveAspectRatio="none" image-rendering="optimizeSpeed" href="${href}"/>`,
        );
      }
      const caption = `${row.indexName} = ${shown[n]} of ${row.total ?? image.slices} · mean heat ${meanHeat(heat, s).toFixed(2)}`;
      parts.push(`<text x="${x}" y="${y + h + 14}" font-size="11">${escapeMarkup(caption)}</text>`);
      x += 2 * w + innerGap + pairGap;
    }
    width = Math.max(width, x - pairGap + margin, margin * 2 + CHAR * 13 * row.label.length);
    y += h + 18;
  }
  // Colour bar with values: the scale every overlay above shares.
  const barW = 260;
  const barH = 12;
  const barX = margin + 12; // room for the first value's label
  y += 16;
  const stops = Array.from({ length: 11 }, (_, i) => {
    const c = Math.round((i / 10) * 255) * 3;
    return `<stop offset="${i / 10}" stop-color="rgb(${lut[c]},${lut[c + 1]},${lut[c + 2]})"/>`;
  });
  parts.push(`<defs><linearGradient id="heat">${stops.join('')}</linearGradient></defs>`);
  parts.push(
    `<rect x="${margin}" y="${y}" width="${barW}" height="${barH}" fill="url(#heat)" stroke="#333" stroke-width="0.5"/>`,
  );
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const tx = barX + v * barW;
    parts.push(`<line x1="${tx}" y1="${y + barH}" x2="${tx}" y2="${y + barH + 4}" stroke="#333"/>`);
    parts.push(`<text x="${tx}" y="${y + barH + 16}" font-size="11" text-anchor="middle">${v.toFixed(2)}</text>`);
  }
  const legend = `heat: 0 = none, 1 = this case's peak; not drawn below ${overlay.floor.toFixed(2)}; left: input, right: overlay`;
  parts.push(
    `<text x="${barX + barW + 14}" y="${y + barH - 1}" font-size="11" fill="#444">${escapeMarkup(legend)}</text>`,
  );
  width = Math.ceil(Math.max(width, barX + barW + 14 + CHAR * 11 * legend.length + margin));
  const height = Math.ceil(y + barH + 16 + margin);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
  return { svg, png: svgToPng(svg, 2), slices: shownPerRow };
}
