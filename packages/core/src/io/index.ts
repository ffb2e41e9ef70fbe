export { type NpyArray, type NpyData, type NpyDType, NpyFormatError, readNpy, writeNpy } from './npy.js';
