/**
 * Volumes: reading, writing, geometry and preprocessing of CT/MRI.
 *
 * Geometry follows ITK: `Volume` holds voxels with i fastest, `size`/`spacing` per index axis,
 * `origin` and a row-major `direction` in the LPS world frame. `affineRAS(v)` is the affine
 * nibabel reports for the same file; `indexToWorld` / `worldToIndex` convert positions.
 *
 * Reading: `readVolume(path, {volume?})` takes .nii/.nii.gz, .nrrd, .mha/.mhd, one DICOM file or a
 * DICOM series folder (sorted along the slice normal, rescale applied, tilt and uneven spacing
 * reported in `result.dicom`; a series off a regular grid is resampled onto one unless
 * `dicomGrid: 'stored'`). It runs in a worker thread once the package is built; bad input
 * is an `InputError` naming the file. `writeVolume` writes .nii.gz/.nii/.mha/.nrrd atomically
 * with the exact geometry. `readMask(path, image)` refuses a label map off the image's grid.
 *
 * Preprocessing is pure: each spatial step (`reorient`, `resampleToSpacing`, `resampleToSize`,
 * `cropOrPad`, `sliceBatches`) returns `{volume, record}` and accepts either a `Volume` or a
 * previous result, so steps chain. The `SpatialRecord` keeps the source grid and, per step, the
 * input grid, output grid and the output-index → input-index affine. To put a result computed
 * on the processed grid back on the voxels that were read:
 *
 *   const p = resampleToSpacing(reorient(ct, 'LPS'), [1, 1, 1]);
 *   const views = sliceBatches(p, { axis: 'axial', size: [224, 224], patch: 14,
 *                                   channels: { windows: CHEST_CT_WINDOWS },
 *                                   mean: IMAGENET_MEAN, std: IMAGENET_STD, chunk: 16 });
 *   for (const { start, count, data } of views) { ... data is [count, 3, H, W] float32 ... }
 *   // heatmap: Float32Array laid out [S, H, W] (w fastest) over the resized slices
 *   const onSource = mapToSource(heatmap, views.record, { interpolation: 'linear' });
 *   await writeVolume(onSource, 'heat.nii.gz'); // same affine as the CT that was read
 *
 * Intensity helpers (`windowChannels`, `mriNormalize`, `replicateChannels`,
 * `normalizeChannels`) do not change the grid and need no record.
 */

export { regularizeSeries } from './dicom-regularize.js';
export type { DicomSeriesReport } from './dicom-series.js';
export { inspectDicomSeries } from './dicom-series.js';
export {
  type Affine,
  affineRAS,
  affineRows,
  applyAffine,
  geometryMismatch,
  gridFromAffineRAS,
  indexToWorld,
  indexToWorldAffine,
  invertAffine,
  multiplyAffine,
  orientationCode,
  worldToIndex,
} from './geometry.js';
export {
  detectUnits,
  type IntensitySummary,
  type IntensityUnits,
  intensitySummary,
  type Rescale,
  rescaleToHounsfield,
  toHounsfield,
} from './hounsfield.js';
export {
  applyWindow,
  CHEST_CT_WINDOWS,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type MriNormalisation,
  type MriNormalized,
  type MriNormalizeOptions,
  mriNormalize,
  normalizeChannels,
  percentile,
  replicateChannels,
  type Window,
  windowChannels,
} from './intensity.js';
export { checkMaskGeometry, readMask } from './mask.js';
export { NIFTI_SCALAR_BYTES, type NiftiHeaderInfo, parseNiftiHeader } from './nifti-header.js';
export type { NiftiWriteOptions } from './nifti-write.js';
export { type ReadOptions, readVolume, workerAvailable } from './read.js';
export type { ReadResult, VolumeFormat } from './read-core.js';
export {
  asProcessed,
  currentGrid,
  type MapBackOptions,
  mapSlicesToSource,
  mapSumToSource,
  mapToSource,
  type Processed,
  type SpatialRecord,
  type SpatialStep,
  toSourceIndexMap,
  trilinear,
  type WeightedMap,
} from './record.js';
export {
  type CropPadOptions,
  cropOrPad,
  type ReorientPlan,
  type ResampleOptions,
  reorient,
  reorientPlan,
  resampleToSize,
  resampleToSpacing,
  sizeForSpacing,
} from './spatial.js';
export { volumeStem } from './stem.js';
export {
  asFloat32,
  type Grid,
  gridOf,
  type Vec3,
  type Volume,
  type VoxelArray,
  type VoxelType,
  voxelCount,
  voxelType,
} from './types.js';
export { checkFinite, checkGeometry } from './validate.js';
export {
  type ChannelSpec,
  patchMultiple,
  SLICE_AXES,
  SLICE_AXIS_INDEX,
  type SliceAxis,
  type SliceBatch,
  type SliceBatches,
  type SliceOptions,
  sliceBatches,
} from './views.js';
export { toItkImage, writeVolume } from './write.js';
