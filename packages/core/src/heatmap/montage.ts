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

/** One slice's pixels, [H, W] row-major. */
interface Plane {
  data: Float32Array;
  width: number;
  height: number;
}

/**
 * Slice `s` at no more than `width` × `height` pixels: each output pixel is the mean of the
 * input pixels whose centres fall in it (area averaging, so fine detail greys out instead of
 * aliasing), separably along x then y. A slice already that small is returned as it is.
 */
export function shrinkSlice(stack: SliceStack, s: number, width: number, height: number): Plane {
  const [W, H] = [stack.width, stack.height];
  const slice = stack.data.subarray(s * W * H, (s + 1) * W * H);
  const [w, h] = [Math.max(1, Math.min(W, width)), Math.max(1, Math.min(H, height))];
  if (w === W && h === H) return { data: slice, width: W, height: H };
  // Output pixel o covers input centres in [o·n/m, (o+1)·n/m): bounds per output index.
  const spans = (n: number, m: number) => Int32Array.from({ length: m + 1 }, (_, o) => Math.ceil((o * n) / m - 0.5));
  const [xs, ys] = [spans(W, w), spans(H, h)];
  const rows = new Float32Array(H * w);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let i = xs[x]!; i < xs[x + 1]!; i++) sum += slice[y * W + i]!;
      rows[y * w + x] = sum / (xs[x + 1]! - xs[x]!);
    }
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let j = ys[y]!; j < ys[y + 1]!; j++) sum += rows[j * w + x]!;
      out[y * w + x] = sum / (ys[y + 1]! - ys[y]!);
    }
  return { data: out, width: w, height: h };
}

/**
 * A slice as PNG: the grey image (one channel), or the heatmap blended over it (RGB). The bytes
 * are laid out as the PNG stores them, so pngjs packs nothing, and every row takes the Sub filter
 * instead of pngjs's try-all-five search: together a third of a CT montage's time went there.
 */
function tilePng(
  image: Plane,
  heat: Plane,
  overlay: { lut: Uint8Array; opacity: number; floor: number } | null,
): string {
  const { width, height } = image;
  const colorType = overlay ? 2 : 0;
  const px = Buffer.alloc(width * height * (overlay ? 3 : 1));
  for (let i = 0; i < width * height; i++) {
    const g = Math.min(1, Math.max(0, image.data[i]!)) * 255;
    if (!overlay) {
      px[i] = Math.round(g);
      continue;
    }
    const h = Math.min(1, Math.max(0, heat.data[i]!));
    const a = h >= overlay.floor ? overlay.opacity * h : 0;
    const c = Math.round(h * 255) * 3;
    px[i * 3] = Math.round((1 - a) * g + a * overlay.lut[c]!);
    px[i * 3 + 1] = Math.round((1 - a) * g + a * overlay.lut[c + 1]!);
    px[i * 3 + 2] = Math.round((1 - a) * g + a * overlay.lut[c + 2]!);
  }
  const options = { colorType, inputColorType: colorType, inputHasAlpha: false, filterType: 1 } as const;
  const png = new PNG({ width, height, ...options });
  png.data = px;
  return `data:image/png;base64,${PNG.sync.write(png, options).toString('base64')}`;
}

function meanHeat(heat: SliceStack, s: number): number {
  const area = heat.width * heat.height;
  let m = 0;
  for (let i = 0; i < area; i++) m += heat.data[s * area + i]!;
  return m / area;
}

/** The PNG is the page drawn at twice its size: crisp on high-density screens and in print. */
const PNG_SCALE = 2;

// Rough advance width of DejaVu Sans per character at 1 px font size: enough to size the page.
const CHAR = 0.6;

/**
 * A montage a reader understands without the JSON: a title (case, plugin, label, probability,
 * threshold), then one row per view with its name and weight, each shown slice as the input
 * beside the heatmap over it, captioned with its index and mean heat, and a colour bar with
 * values. Drawn as SVG (text in DejaVu Sans), rasterised to PNG. Returns both and the slices shown.
 */
export async function renderMontage(
  rows: readonly MontageRow[],
  text: MontageText,
  options: MontageOptions = {},
): Promise<{ svg: string; png: Uint8Array; slices: number[][] }> {
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
    // Tiles carry no more pixels than the PNG shows (the page is drawn at PNG_SCALE): a CT slice
    // is 512² but drawn 300² at most, and resvg would otherwise decode and drop the rest.
    const [tw, th] = [Math.round(w * PNG_SCALE), Math.round(h * PNG_SCALE)];
    for (const [n, s] of positions.entries()) {
      const [imagePlane, heatPlane] = [shrinkSlice(image, s, tw, th), shrinkSlice(heat, s, tw, th)];
      for (const [k, href] of [
        tilePng(imagePlane, heatPlane, null),
        tilePng(imagePlane, heatPlane, overlay),
      ].entries()) {
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
  return { svg, png: await svgToPng(svg, PNG_SCALE), slices: shownPerRow };
}
