import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { type DicomHeader, parseDicomHeader } from './dicom-parse.js';

/** What was found about a DICOM series before assembling it, for `inspect` and for callers. */
export interface DicomSeriesReport {
  seriesUID: string;
  description: string;
  modality: string;
  slices: number;
  /** Absolute file paths in slice order (along the slice normal). */
  files: string[];
  /** ImagePositionPatient (LPS, mm) of each slice, in slice order. */
  positions: number[][];
  /** Distance between consecutive slices along the slice normal (mm). */
  gaps: number[];
  /** True when the gaps differ by more than 1 % of the median (or 0.01 mm). */
  unevenSpacing: boolean;
  /** Angle (degrees) between the slice-stacking direction and the slice normal: gantry tilt. */
  tiltDegrees: number;
  /** GantryDetectorTilt (0018,1120) as written in the files, if any. */
  gantryTiltTag: number | null;
  /**
   * Largest distance (mm) between a slice's true position (its ImagePositionPatient) and where a
   * regular stack of the stored slices puts it. Zero for a regular, untilted series.
   */
  maxPositionError: number;
  /**
   * True when the reader resampled the slices onto a regular grid perpendicular to the slice
   * normal (see `regularizeSeries`), because the stored slices were not on one.
   */
  regularized: boolean;
}

const cross = (a: number[], b: number[]) => [
  a[1]! * b[2]! - a[2]! * b[1]!,
  a[2]! * b[0]! - a[0]! * b[2]!,
  a[0]! * b[1]! - a[1]! * b[0]!,
];
const dot = (a: number[], b: number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/** Lists a folder's DICOM candidates (regular files; hidden files and DICOMDIR skipped). */
export async function listSeriesFiles(folder: string): Promise<string[]> {
  const abs = resolve(folder);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(abs);
  } catch {
    throw new InputError(folder, 'no such file or folder');
  }
  if (!info.isDirectory())
    throw new InputError(
      folder,
      'a single DICOM file is not a series: give the folder that holds the series, or read the file on its own',
    );
  const names = (await readdir(abs, { withFileTypes: true }))
    .filter((d) => d.isFile() && !d.name.startsWith('.') && d.name.toUpperCase() !== 'DICOMDIR')
    .map((d) => join(abs, d.name))
    .sort();
  if (names.length === 0) throw new InputError(folder, 'folder holds no files (expected a DICOM series)');
  return names;
}

/**
 * Reads every file's header, checks the folder holds exactly one series of parallel slices at
 * distinct positions, and reports the slice order, gaps and tilt. Errors name the folder or file.
 */
export async function inspectDicomSeries(folder: string): Promise<DicomSeriesReport> {
  const files = await listSeriesFiles(folder);
  const headers: { file: string; h: DicomHeader }[] = [];
  for (const file of files) headers.push({ file, h: parseDicomHeader(file, await readFile(file)) });
  const bySeries = new Map<string, { file: string; h: DicomHeader }[]>();
  for (const x of headers) bySeries.set(x.h.seriesUID, [...(bySeries.get(x.h.seriesUID) ?? []), x]);
  if (bySeries.size > 1) {
    const parts = [...bySeries.entries()].map(
      ([uid, xs]) =>
        `${xs.length} file(s) of series ${uid || '(no UID)'}${xs[0]!.h.seriesDescription ? ` "${xs[0]!.h.seriesDescription}"` : ''}`,
    );
    throw new InputError(
      folder,
      `folder mixes ${bySeries.size} DICOM series (${parts.join('; ')}); put each series in its own folder`,
    );
  }
  if (headers.length < 2)
    throw new InputError(folder, 'folder holds a single DICOM file, not a series: read that file on its own');
  const first = headers[0]!.h;
  for (const { file, h } of headers) {
    if (h.position?.length !== 3) throw new InputError(file, 'DICOM slice has no ImagePositionPatient (0020,0032)');
    if (h.orientation?.length !== 6)
      throw new InputError(file, 'DICOM slice has no ImageOrientationPatient (0020,0037)');
    if (h.rows !== first.rows || h.columns !== first.columns)
      throw new InputError(
        file,
        `slice is ${h.columns}×${h.rows}, the series' first slice is ${first.columns}×${first.rows}`,
      );
    if (h.orientation.some((v, i) => Math.abs(v - first.orientation![i]!) > 1e-4))
      throw new InputError(file, 'slice orientation (0020,0037) differs from the rest of the series');
  }
  const iop = first.orientation!;
  const normal = cross(iop.slice(0, 3), iop.slice(3, 6));
  const sorted = [...headers].sort((a, b) => dot(normal, a.h.position!) - dot(normal, b.h.position!));
  const positions = sorted.map((x) => x.h.position!);
  const along = positions.map((p) => dot(normal, p));
  const gaps = along.slice(1).map((z, i) => z - along[i]!);
  const duplicates = gaps.filter((g) => Math.abs(g) < 1e-3).length;
  if (duplicates > 0)
    throw new InputError(
      folder,
      `${duplicates + 1} or more slices share one position: not one volume (repeated acquisitions, echoes or unrelated images)`,
    );
  const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
  const unevenSpacing = Math.max(...gaps) - Math.min(...gaps) > Math.max(0.01, 0.01 * median);
  const span = positions[positions.length - 1]!.map((v, i) => v - positions[0]![i]!);
  const spanLength = Math.hypot(...span);
  const tiltDegrees = (Math.acos(Math.min(1, Math.abs(dot(span, normal)) / spanLength)) * 180) / Math.PI;
  // The assembled grid puts slice k at origin + k·spacing·normal, with spacing the mean gap.
  const mean = (along[along.length - 1]! - along[0]!) / (along.length - 1);
  let maxPositionError = 0;
  positions.forEach((p, k) => {
    const grid = positions[0]!.map((o, i) => o + k * mean * normal[i]!);
    maxPositionError = Math.max(maxPositionError, Math.hypot(...p.map((v, i) => v - grid[i]!)));
  });
  return {
    seriesUID: first.seriesUID,
    description: first.seriesDescription,
    modality: first.modality,
    slices: sorted.length,
    files: sorted.map((x) => x.file),
    positions,
    gaps,
    unevenSpacing,
    tiltDegrees,
    gantryTiltTag: first.gantryTilt,
    maxPositionError,
    regularized: false,
  };
}
