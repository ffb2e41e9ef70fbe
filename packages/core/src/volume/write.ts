import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeImageNode } from '@itk-wasm/image-io';
import { FloatTypes, Image, ImageType, IntTypes, PixelTypes } from 'itk-wasm';
import { InputError } from '../util/errors.js';
import { type NiftiWriteOptions, writeNifti } from './nifti-write.js';
import { type Volume, voxelType } from './types.js';
import { checkGeometry } from './validate.js';

const SUFFIXES = ['.nii.gz', '.nii', '.mha', '.nrrd'];

const COMPONENT = {
  int8: IntTypes.Int8,
  uint8: IntTypes.UInt8,
  int16: IntTypes.Int16,
  uint16: IntTypes.UInt16,
  int32: IntTypes.Int32,
  uint32: IntTypes.UInt32,
  float32: FloatTypes.Float32,
  float64: FloatTypes.Float64,
} as const;

/** The itk-wasm Image for a volume, sharing its voxel buffer; metadata left empty so ITK does not warn. */
export function toItkImage(v: Volume): Image {
  const image = new Image(new ImageType(3, COMPONENT[voxelType(v.data)], PixelTypes.Scalar, 1));
  image.size = [...v.size];
  image.spacing = [...v.spacing];
  image.origin = [...v.origin];
  image.direction = new Float64Array(v.direction);
  // itk-wasm reads `data.buffer` whole, so a view at an offset must become an array of its own.
  const whole = v.data.byteOffset === 0 && v.data.byteLength === v.data.buffer.byteLength;
  image.data = whole ? v.data : v.data.slice();
  image.metadata = new Map();
  return image;
}

/**
 * Writes a volume as NIfTI (.nii.gz, .nii), MetaImage (.mha) or NRRD with its exact geometry,
 * atomically: a temporary file in the same folder is renamed into place once complete. NIfTI is
 * written by core itself (nifti-write.ts): ITK's WebAssembly writer copies the voxels into its
 * heap and gzips on one thread, 8.9 s of the 22 s one-CT heatmap (bench/ct-end-to-end).
 * `options` (display range, description, 16-bit quantisation) are NIfTI header fields and storage;
 * other formats have no place for them and are written as the voxels are.
 */
export async function writeVolume(v: Volume, path: string, options: NiftiWriteOptions = {}): Promise<void> {
  const suffix = SUFFIXES.find((s) => path.toLowerCase().endsWith(s));
  if (!suffix) throw new InputError(path, `cannot write this format: use one of ${SUFFIXES.join(', ')}`);
  checkGeometry(path, v);
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target, suffix)}.${randomBytes(6).toString('hex')}.tmp${suffix}`);
  try {
    if (suffix === '.nii.gz' || suffix === '.nii') await writeNifti(v, tmp, suffix === '.nii.gz', options, path);
    else await writeImageNode(toItkImage(v), tmp, { useCompression: suffix === '.nrrd' });
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
