export { type NpyArray, type NpyData, type NpyDType, NpyFormatError, readNpy, writeNpy } from './npy.js';
export { decodeSafetensors, encodeSafetensors, halfToFloat, type SafetensorsFile } from './safetensors.js';
