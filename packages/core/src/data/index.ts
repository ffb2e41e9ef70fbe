/**
 * Data sets and array files. `readNpz` reads a NumPy .npz (zip of .npy) without Python;
 * `readMedMnist` + `medMnistVolume` give MedMNIST 3D splits as `Volume`s (spacing 1, identity).
 */

export type { NpyArray } from '../io/npy.js';
export { type CsvOptions, type CsvTable, parseCsv, readCsv } from './csv.js';
export { imageFileOf, type NpzVolumeRef, npzRef, parseNpzRef } from './image-ref.js';
export { alignPredictions, type LabelTable, type LabelValues, labelTableFromCsv } from './label-table.js';
export { type MedMnistSet, type MedMnistSplit, medMnistVolume, readMedMnist, readNpz } from './npz.js';
