import { open, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Image } from 'itk-wasm';
import { InputError } from '../util/errors.js';
import { parseDicomHeader } from './dicom-parse.js';
import { regularizeSeries } from './dicom-regularize.js';
import { type DicomSeriesReport, inspectDicomSeries } from './dicom-series.js';
import { indexToWorld } from './geometry.js';
import { readNiftiFast } from './nifti-fast.js';
import { unrepresentableGeometry } from './nifti-geometry.js';
import { checkFloatsFinite, checkNifti } from './nifti-header.js';
import type { Vec3, Volume, VoxelArray } from './types.js';
import { checkFinite, checkGeometry } from './validate.js';

export interface ReadRequest {
  path: string;
  /** For a 4D file: which volume along the 4th axis to take (0-based). */
  volume?: number;
  /**
   * For a DICOM series whose slices are not on a regular grid (gantry tilt, uneven gaps):
   * 'regular' (default) resamples onto one so every voxel is where it was measured; 'stored'
   * keeps the slices as stored, stacked on ITK's grid (voxels exact, positions approximate).
   */
  dicomGrid?: 'regular' | 'stored';
}

export type VolumeFormat = 'nifti' | 'nrrd' | 'metaimage' | 'dicom' | 'dicom-series' | 'other';

export interface ReadResult {
  volume: Volume;
  format: VolumeFormat;
  /** Size of the 4th axis when the file was 4D (a volume was picked from it). */
  volumes?: number;
  dicom?: DicomSeriesReport;
}

function formatOf(path: string): VolumeFormat {
  const p = path.toLowerCase();
  if (p.endsWith('.nii') || p.endsWith('.nii.gz')) return 'nifti';
  if (p.endsWith('.nrrd') || p.endsWith('.nhdr')) return 'nrrd';
  if (p.endsWith('.mha') || p.endsWith('.mhd')) return 'metaimage';
  if (p.endsWith('.dcm') || p.endsWith('.ima')) return 'dicom';
  return 'other';
}

async function sniff(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(132);
    const { bytesRead } = await handle.read(head, 0, 132, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Reads one volume in the calling thread (the worker calls this; so does the in-thread fallback). */
export async function readInThread(request: ReadRequest): Promise<ReadResult> {
  const path = resolve(request.path);
  const source = request.path;
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new InputError(source, 'no such file or folder');
  }
  if (info.isDirectory()) return readSeries(source, path, request.dicomGrid ?? 'regular');
  if (info.size === 0) throw new InputError(source, 'file is empty');
  let format = formatOf(path);
  const head = await sniff(path);
  if (format === 'other' && head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM') format = 'dicom';
  if (format === 'nifti') {
    const header = await checkNifti(path, { scanFloats: false }).catch(rename(source, path));
    const unrepresentable = unrepresentableGeometry(header);
    if (unrepresentable) throw new InputError(source, unrepresentable);
    const fast = await readNiftiFast(path, header);
    if (fast) return { ...toVolume(source, fast, request.volume), format };
    // ITK turns NaN into 0 silently, so float files are scanned before it reads them.
    await checkFloatsFinite(path, header).catch(rename(source, path));
  }
  if (format === 'nrrd' && !head.toString('latin1', 0, 4).startsWith('NRRD'))
    throw new InputError(source, 'not an NRRD file: it does not start with "NRRD" (wrong magic)');
  if (format === 'metaimage' && !/^\s*[A-Za-z]+\s*=/.test(head.toString('latin1', 0, 64)))
    throw new InputError(source, 'not a MetaImage file: no "Key = value" header (wrong magic)');
  if (format === 'dicom') {
    parseDicomHeader(source, await readFile(path));
  }
  let image: Image;
  try {
    // Loaded here, not with the module: the NIfTI fast path never needs ITK.
    const { readImageNode } = await import('@itk-wasm/image-io');
    image = await readImageNode(path);
  } catch (error) {
    throw new InputError(
      source,
      `cannot read as an image (unknown format, wrong magic or corrupt data): ${describe(error)}`,
    );
  }
  const read = toVolume(source, image, request.volume);
  if (format === 'dicom') read.volume.data = narrowIntegers(read.volume.data);
  return { ...read, format };
}

function rename(source: string, path: string) {
  return (error: unknown) => {
    if (error instanceof InputError && error.source === path) throw new InputError(source, error.problem);
    throw error;
  };
}

/** Slices off their grid by more than this (mm) are resampled onto a regular one. */
const POSITION_TOLERANCE_MM = 0.01;

async function readSeries(source: string, path: string, grid: 'regular' | 'stored'): Promise<ReadResult> {
  const dicom = await inspectDicomSeries(path).catch(rename(source, resolve(path)));
  let image: Image;
  try {
    const { readImageDicomFileSeriesNode } = await import('@itk-wasm/dicom');
    image = (await readImageDicomFileSeriesNode({ inputImages: dicom.files })).outputImage;
  } catch (error) {
    throw new InputError(source, `cannot assemble the DICOM series: ${describe(error)}`);
  }
  const { volume } = toVolume(source, image, undefined);
  if (volume.size[2] !== dicom.slices)
    throw new InputError(source, `assembled ${volume.size[2]} slices from ${dicom.slices} files`);
  const stacked = { ...volume, data: narrowIntegers(volume.data) };
  // How far the stored slices are from the grid ITK put them on.
  dicom.maxPositionError = Math.max(
    ...dicom.positions.map((p, k) => Math.hypot(...indexToWorld(stacked, [0, 0, k]).map((w, i) => w - p[i]!))),
  );
  if (grid === 'stored' || dicom.maxPositionError <= POSITION_TOLERANCE_MM)
    return { volume: stacked, format: 'dicom-series', dicom };
  dicom.regularized = true;
  return { volume: regularizeSeries(stacked, dicom), format: 'dicom-series', dicom };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'number' ? `ITK exception ${error}` : String(error);
}

function toVolume(source: string, image: Image, pick: number | undefined): { volume: Volume; volumes?: number } {
  if (image.imageType.components !== 1)
    throw new InputError(
      source,
      `has ${image.imageType.components} components per voxel; a scalar (1-component) image is required`,
    );
  if (!image.data) throw new InputError(source, 'holds no voxel data');
  const dim = image.imageType.dimension;
  const size = [...image.size];
  let data = image.data as VoxelArray;
  let volumes: number | undefined;
  const dir = image.direction;
  const direction = new Float64Array(9);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) direction[r * 3 + c] = r < dim && c < dim ? Number(dir[r * dim + c]!) : r === c ? 1 : 0;
  if (dim > 4 || dim < 2) throw new InputError(source, `is ${dim}-dimensional; a 3D image is required`);
  if (dim === 4) {
    volumes = size[3]!;
    const n3 = size[0]! * size[1]! * size[2]!;
    if (volumes > 1 && pick === undefined)
      throw new InputError(
        source,
        `is 4D with ${volumes} volumes where 3D is required: say which volume to take (0–${volumes - 1}, e.g. --volume 0)`,
      );
    const k = pick ?? 0;
    if (!Number.isInteger(k) || k < 0 || k >= volumes)
      throw new InputError(source, `volume ${k} does not exist: the file holds ${volumes} (0–${volumes - 1})`);
    data = data.slice(k * n3, (k + 1) * n3) as VoxelArray;
  } else if (pick !== undefined && pick !== 0) {
    throw new InputError(source, `volume ${pick} does not exist: the file holds one 3D volume`);
  }
  const volume: Volume = {
    data,
    size: [size[0]!, size[1]!, size[2] ?? 1] as Vec3,
    spacing: [image.spacing[0]!, image.spacing[1]!, image.spacing[2] ?? 1] as Vec3,
    origin: [image.origin[0]!, image.origin[1]!, image.origin[2] ?? 0] as Vec3,
    direction,
  };
  checkGeometry(source, volume);
  checkFinite(source, volume);
  return volumes === undefined ? { volume } : { volume, volumes };
}

/** ITK returns rescaled DICOM as Int32; keep int16 when every value fits (half the memory). */
function narrowIntegers(data: VoxelArray): VoxelArray {
  if (!(data instanceof Int32Array)) return data;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo >= -32768 && hi <= 32767 ? Int16Array.from(data) : data;
}
