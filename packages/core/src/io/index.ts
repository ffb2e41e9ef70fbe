export { type NpyArray, type NpyData, type NpyDType, NpyFormatError, readNpy, writeNpy } from './npy.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  type SafetensorsEntry,
  type SafetensorsFile,
  writeSafetensors,
} from './safetensors.js';
