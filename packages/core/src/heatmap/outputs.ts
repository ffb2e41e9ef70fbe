import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ViewInput } from '../pipeline/embed-volume.js';
import { writeFileAtomic } from '../util/atomic.js';
import { percentile } from '../volume/intensity.js';
import { asProcessed, mapSlicesToSource, type Processed } from '../volume/record.js';
import type { Grid, Volume } from '../volume/types.js';
import { SLICE_AXIS_INDEX, type SliceAxis } from '../volume/views.js';
import { writeVolume } from '../volume/write.js';
import { type CaseHeatmap, HEATMAP_NIFTI, type HeatmapSummary } from './case-heatmap.js';
import { type MontageOptions, type MontageRow, type MontageText, renderMontage, type SliceStack } from './montage.js';
import { topSlicesOf } from './slice-heat.js';

/**
 * The slices of a volume along index axis `axis` as [S, H, W] tiles, oriented as the slicing of
 * core/volume does it: axial planes (i, j); coronal (i, k) and sagittal (j, k) with k upwards.
 * `lo..hi` maps values to [0, 1] (clamped).
 */
export function volumeSlices(v: Volume, axis: 0 | 1 | 2, lo = 0, hi = 1, only?: readonly number[]): SliceStack {
  const [nx, ny] = v.size;
  const [wAxis, hAxis, flip] = axis === 2 ? [0, 1, false] : axis === 1 ? [0, 2, true] : [1, 2, true];
  const W = v.size[wAxis]!;
  const H = v.size[hAxis]!;
  // `only`: just these slice indices, in this order (a montage needs four, not the whole volume again).
  const indices = only ?? Array.from({ length: v.size[axis] }, (_, s) => s);
  const S = indices.length;
  const data = new Float32Array(S * H * W);
  const scale = hi > lo ? 1 / (hi - lo) : 0;
  // Strides of the (i, j, k) index axes in the voxel array: each tile row is then one strided run,
  // without an index triple rebuilt per voxel (a CT montage's twelve slices: 22 ms, 34 ms before).
  const stride = [1, nx, nx * ny];
  const [ws, hs] = [stride[wAxis]!, stride[hAxis]!];
  const voxels = v.data;
  for (let k = 0; k < S; k++)
    for (let h = 0; h < H; h++) {
      const row = indices[k]! * stride[axis]! + (flip ? H - 1 - h : h) * hs;
      const out = (k * H + h) * W;
      for (let w = 0; w < W; w++) data[out + w] = Math.min(1, Math.max(0, (voxels[row + w * ws]! - lo) * scale));
    }
  return { data, slices: S, height: H, width: W };
}

/** The grey window of the montage: the view's first intensity window, else the 1st–99th percentile. */
export function displayWindow(v: Volume, view?: ViewInput): [number, number] {
  const ch = view?.channels;
  if (ch && 'windows' in ch && ch.windows[0]) return [ch.windows[0][0], ch.windows[0][1]];
  if (ch && 'replicate' in ch && ch.range) return ch.range;
  const step = Math.max(1, Math.floor(v.data.length / 200_000));
  const sample = new Float32Array(Math.ceil(v.data.length / step));
  for (let i = 0, k = 0; i < v.data.length; i += step, k++) sample[k] = Number(v.data[i]);
  sample.sort();
  return [percentile(sample, 1), percentile(sample, 99)];
}

/** A file-name-safe form of a label ("Pleural effusion" → "pleural-effusion"). */
export function labelSlug(label: string): string {
  return (
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'label'
  );
}

export interface HeatmapFiles {
  nifti: string;
  json: string;
  png?: string;
  svg?: string;
  /** Set by callers that also write the case's HTML report. */
  report?: string;
}

/**
 * Slices `only` along `axis` of the image on the grid it was read on (where the heatmap lies),
 * windowed to [0, 1]: a prepared volume is sampled back through its record at those slices only.
 */
function sourceSlices(image: Volume | Processed, axis: 0 | 1 | 2, lo: number, hi: number, only: number[]): SliceStack {
  const p = asProcessed(image);
  if (p.record.steps.length === 0) return volumeSlices(p.volume, axis, lo, hi, only);
  const some = mapSlicesToSource(p.volume.data, p.record, axis, only, { interpolation: 'linear' });
  return volumeSlices(
    { ...p.record.source, ...some },
    axis,
    lo,
    hi,
    only.map((_, s) => s),
  );
}

const INDEX_NAMES = ['i', 'j', 'k'] as const;
/** Slices per view row of a montage. */
const MONTAGE_COUNT = 4;

/** Physical height ÷ width of a pixel of `volumeSlices(v, axis)`. */
function pixelAspect(v: Grid, axis: 0 | 1 | 2): number {
  const [si, sj, sk] = v.spacing;
  return axis === 2 ? sj / si : axis === 1 ? sk / si : sk / sj;
}

const METHOD_WORDS: Record<HeatmapSummary['method'], string> = {
  attention: "the backbone's own pooling attention over patches × the plugin's slice and view weights",
  cam: "class activation map (the head's weights on the feature map) × the plugin's slice and view weights",
};

/** The montage's words: who, what, how sure, and how the map was made. */
export function montageText(summary: HeatmapSummary, caption: MontageCaption): MontageText {
  const decision = summary.probability >= summary.threshold ? 'positive' : 'negative';
  return {
    title: `${caption.caseId} · ${caption.plugin} · ${summary.label}: p = ${summary.probability.toFixed(3)}, threshold ${summary.threshold.toFixed(3)} → ${decision}`,
    subtitle: `${METHOD_WORDS[summary.method]}; backbone ${summary.backbone.name}`,
  };
}

/** Who the montage is about (the summary itself knows the label, not the case or the plugin). */
export interface MontageCaption {
  caseId: string;
  plugin: string;
}

/**
 * The montage of one case heatmap (see renderMontage): one row per view of the summary, each along
 * its own axis of the image as read, titled with the case, plugin, label and probability.
 */
export async function caseMontage(
  result: CaseHeatmap,
  options: {
    /** The image under the map: as read, or as the recipe prepared it (then drawn back on the grid as read). */
    image: Volume | Processed;
    caption: MontageCaption;
    view?: ViewInput;
    montage?: MontageOptions;
  },
): Promise<{ png: Uint8Array; svg: string; shown: Omit<NonNullable<HeatmapSummary['montage']>, 'file'> }> {
  const source = asProcessed(options.image).record.source;
  const [lo, hi] = displayWindow(asProcessed(options.image).volume, options.view);
  const views = result.summary.views.length
    ? result.summary.views
    : [{ name: 'main', axis: 'axial', weight: 1, topSlices: [] }];
  const rows: MontageRow[] = views.map((view) => {
    const axis = SLICE_AXIS_INDEX[view.axis as SliceAxis] ?? result.summary.sliceAxis;
    const weights = view.topSlices.slice(0, 3).map((t) => t.weight.toFixed(2));
    const count = options.montage?.count ?? MONTAGE_COUNT;
    const shown = topSlicesOf(result.sliceHeat[axis], count)
      .map((t) => t.index)
      .sort((a, b) => a - b);
    return {
      label:
        `${view.name} view (${view.axis}, slices along ${INDEX_NAMES[axis]}) · view weight ${view.weight.toFixed(2)}` +
        (weights.length ? ` · plugin's top slice weights ${weights.join(', ')}` : ''),
      indexName: INDEX_NAMES[axis],
      image: sourceSlices(options.image, axis, lo, hi, shown),
      heat: volumeSlices(result.heat, axis, 0, 1, shown),
      indices: shown,
      total: source.size[axis],
      pixelAspect: pixelAspect(source, axis),
    };
  });
  const montage = await renderMontage(rows, montageText(result.summary, options.caption), {
    count: MONTAGE_COUNT,
    ...options.montage,
  });
  const main = views.findIndex((v) => SLICE_AXIS_INDEX[v.axis as SliceAxis] === result.summary.sliceAxis);
  return {
    png: montage.png,
    svg: montage.svg,
    shown: {
      slices: montage.slices[Math.max(0, main)] ?? [],
      window: [lo, hi],
      views: views.map((v, k) => ({ name: v.name, axis: v.axis, slices: montage.slices[k]! })),
    },
  };
}

/**
 * Writes `<label>.nii.gz` (float32, exactly the input's affine), `<label>.json` (the summary)
 * and with `png` a montage (`<label>.png` and `<label>.svg`): one row per view, its top slices as
 * input beside overlay, titled and captioned — each atomically.
 */
export async function writeHeatmapOutputs(
  dir: string,
  result: CaseHeatmap,
  options: {
    /** The image under the map: as read, or as the recipe prepared it (then drawn back on the grid as read). */
    image?: Volume | Processed;
    view?: ViewInput;
    png?: boolean;
    caption?: MontageCaption;
    montage?: MontageOptions;
    provenance?: object;
  } = {},
): Promise<HeatmapFiles> {
  await mkdir(dir, { recursive: true });
  const slug = labelSlug(result.summary.label);
  const files: HeatmapFiles = { nifti: join(dir, `${slug}.nii.gz`), json: join(dir, `${slug}.json`) };
  // The montage is drawn while the NIfTI is written: its raster goes to libuv's thread pool beside
  // the NIfTI's compression (on a CT, 0.4–0.5 s each, one after the other before).
  let montaging: ReturnType<typeof caseMontage> | null = null;
  if (options.png) {
    if (!options.image) throw new Error('a PNG montage needs the image the heatmap was computed on');
    if (!options.caption) throw new Error('a PNG montage needs the case and plugin it is titled with');
    montaging = caseMontage(result, {
      image: options.image,
      caption: options.caption,
      ...(options.view ? { view: options.view } : {}),
      ...(options.montage ? { montage: options.montage } : {}),
    });
  }
  const [written, drawn] = await Promise.allSettled([writeVolume(result.heat, files.nifti, HEATMAP_NIFTI), montaging]);
  if (written.status === 'rejected') throw written.reason;
  if (drawn.status === 'rejected') throw drawn.reason;
  const montage = drawn.value;
  if (montage) {
    files.png = join(dir, `${slug}.png`);
    files.svg = join(dir, `${slug}.svg`);
    await writeFileAtomic(files.png, montage.png);
    await writeFileAtomic(files.svg, montage.svg);
    result.summary.montage = { file: `${slug}.png`, ...montage.shown };
  }
  await writeFileAtomic(
    files.json,
    `${JSON.stringify({ ...result.summary, ...(options.provenance ? { provenance: options.provenance } : {}) }, null, 2)}\n`,
  );
  return files;
}
