// The safetensors reader lives in @anymc3d/core/io; re-exported for this package's public API.
export {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  type SafetensorsEntry,
  type SafetensorsFile,
} from '@anymc3d/core/io';
export { type ConvertedCheckpoint, convertPickledCheckpoint, PICKLED_CHECKPOINTS } from './convert.js';
export { configFields, readHfConfig } from './hf-config.js';
export { readTorchCheckpoint } from './torch-checkpoint.js';
