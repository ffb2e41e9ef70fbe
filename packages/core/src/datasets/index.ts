/**
 * Dataset readers: each turns a public dataset's own layout into a `Manifest` for a task card
 * (see `@anymc3d/core/tasks` for the benchmark's cards), checking every row and file first and
 * reporting all problems in one InputError that names the file and line.
 *
 * - `readRsnaTrauma(root, card)`: RSNA 2023 Abdominal Trauma Detection (train.csv + DICOM series).
 * - `readPanorama(images, card, {labels})`: PANORAMA PDAC detection (NIfTI + the labels table).
 * - `readCtRate(root, card)`: CT-RATE (label tables + the nested volume folders).
 * - `readMedMnistDataset(npz, card)`: a MedMNIST 3D archive; images are `<file.npz>#<split>/<index>`,
 *   resolved by `readNpzVolume` (or `readCaseImage`, which reads any manifest image path).
 *
 * `readDataset(card, input)` picks the reader a card names in `data.reader`.
 * `writeManifestCsv` saves a manifest as the CSV `readManifest` reads.
 */

// Formats the readers share: CSV, NumPy .npz, label tables, image references.
export type { NpyArray } from '../io/npy.js';
export { checkSplitOptions, type SplitOptions, splitOf } from './common.js';
export { type CsvOptions, type CsvTable, parseCsv, readCsv } from './csv.js';
export {
  type CtRateLayout,
  type CtRateOptions,
  type CtRateRelease,
  ctRateLayout,
  readCtRate,
} from './ct-rate.js';
export { readCaseImage } from './image.js';
export { imageDigest } from './image-digest.js';
export { imageFileOf, type NpzVolumeRef, npzRef, parseNpzRef } from './image-ref.js';
export { alignPredictions, type LabelTable, type LabelValues, labelTableFromCsv } from './label-table.js';
export { readMedMnistDataset, readNpzVolume } from './medmnist.js';
export { type MedMnistSet, type MedMnistSplit, medMnistVolume, readMedMnist, readNpz } from './npz.js';
export { type PanoramaOptions, readPanorama } from './panorama.js';
export { DATASET_READERS, type DatasetInput, type DatasetReader, readDataset } from './read.js';
export { RSNA_TRAUMA_GROUPS, type RsnaTraumaOptions, readRsnaTrauma } from './rsna-trauma.js';
export { writeManifestCsv } from './write.js';
