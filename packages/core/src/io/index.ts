export { decodeSafetensors, encodeSafetensors, halfToFloat, type SafetensorsFile } from './safetensors.js';
