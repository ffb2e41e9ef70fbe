import { InputError } from '@anymc3d/core';
import {
  affineRAS,
  affineRows,
  type DicomSeriesReport,
  orientationCode,
  readVolume,
  type Volume,
  voxelType,
} from '@anymc3d/core/volume';
import type { CommandModule } from 'yargs';

interface InspectArgs {
  input: string;
  json: boolean;
  volume?: number;
  dicomGrid?: 'regular' | 'stored';
}

export interface InspectReport {
  path: string;
  format: string;
  size: number[];
  spacing: number[];
  origin: number[];
  /** Row-major 3×3, LPS. */
  direction: number[];
  orientation: string;
  /** 4×4 rows, as nibabel reports the same file. */
  affineRAS: number[][];
  dtype: string;
  min: number;
  max: number;
  volumes?: number;
  dicom?: {
    description: string;
    modality: string;
    slices: number;
    tiltDegrees: number;
    gantryTiltTag: number | null;
    unevenSpacing: boolean;
    gaps: number[];
    maxPositionError: number;
    regularized: boolean;
  };
}

function range(v: Volume): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const d = v.data;
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

const round = (x: number) => Number(x.toPrecision(12));

function dicomSummary(d: DicomSeriesReport): NonNullable<InspectReport['dicom']> {
  return {
    description: d.description,
    modality: d.modality,
    slices: d.slices,
    tiltDegrees: round(d.tiltDegrees),
    gantryTiltTag: d.gantryTiltTag,
    unevenSpacing: d.unevenSpacing,
    gaps: d.gaps.map(round),
    maxPositionError: round(d.maxPositionError),
    regularized: d.regularized,
  };
}

export async function inspectFile(
  path: string,
  volume?: number,
  dicomGrid?: 'regular' | 'stored',
): Promise<InspectReport> {
  const result = await readVolume(path, {
    ...(volume === undefined ? {} : { volume }),
    ...(dicomGrid === undefined ? {} : { dicomGrid }),
  });
  const v = result.volume;
  const [min, max] = range(v);
  const report: InspectReport = {
    path,
    format: result.format,
    size: [...v.size],
    spacing: v.spacing.map(round),
    origin: v.origin.map(round),
    direction: Array.from(v.direction, round),
    orientation: orientationCode(v.direction),
    affineRAS: affineRows(affineRAS(v)).map((row) => row.map(round)),
    dtype: voxelType(v.data),
    min,
    max,
  };
  if (result.volumes !== undefined) report.volumes = result.volumes;
  if (result.dicom) report.dicom = dicomSummary(result.dicom);
  return report;
}

const fmt = (xs: number[]) => `[${xs.map((x) => round(x)).join(', ')}]`;

function printText(r: InspectReport): void {
  const lines = [
    ['file', r.path],
    ['format', r.format + (r.volumes !== undefined ? ` (volume of ${r.volumes})` : '')],
    ['size', r.size.join(' × ')],
    ['spacing', `${fmt(r.spacing)} mm`],
    ['origin', `${fmt(r.origin)} mm (LPS)`],
    [
      'direction',
      `${[0, 1, 2].map((row) => fmt(r.direction.slice(row * 3, row * 3 + 3))).join(' ')} (row-major, LPS; ${r.orientation})`,
    ],
    ['affine RAS', r.affineRAS.map(fmt).join('\n           ')],
    ['voxel type', r.dtype],
    ['min / max', `${r.min} / ${r.max}`],
  ];
  if (r.dicom) {
    const d = r.dicom;
    lines.push(['series', `${d.description || '(no description)'} — ${d.modality}, ${d.slices} slices`]);
    lines.push([
      'tilt',
      `${d.tiltDegrees.toFixed(2)}°${d.gantryTiltTag !== null ? ` (GantryDetectorTilt ${d.gantryTiltTag})` : ''}`,
    ]);
    const distinct = [...new Set(d.gaps.map((g) => g.toFixed(2)))];
    lines.push(['slice gaps', `${d.unevenSpacing ? 'UNEVEN' : 'even'}: ${distinct.join(', ')} mm`]);
    if (d.regularized)
      lines.push([
        'resampled',
        `onto a regular grid (stacked as stored, slices would sit up to ${d.maxPositionError.toFixed(2)} mm from where they were measured; --dicom-grid stored keeps them)`,
      ]);
  }
  for (const [key, value] of lines) process.stdout.write(`${key!.padEnd(10)} ${value}\n`);
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect',
  describe: 'Print what is read from a volume file or DICOM series folder: geometry, affine, type, range',
  builder: (y) =>
    y
      .option('input', {
        alias: 'i',
        type: 'string',
        demandOption: true,
        describe: 'A .nii/.nii.gz/.nrrd/.mha file, a .dcm file or a DICOM series folder',
      })
      .option('volume', { type: 'number', describe: 'For a 4D file: which volume to take (0-based)' })
      .option('dicom-grid', {
        choices: ['regular', 'stored'] as const,
        describe:
          'A DICOM series off a regular grid (gantry tilt, uneven gaps): resample it onto one (regular, the default) or stack the slices as stored',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' }),
  handler: async (args) => {
    if (args.volume !== undefined && !(Number.isInteger(args.volume) && args.volume >= 0))
      throw new InputError(String(args.volume), '--volume must be a non-negative integer');
    const report = await inspectFile(args.input, args.volume, args.dicomGrid);
    if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else printText(report);
  },
};
