export { readHfConfig } from './hf-config.js';
export {
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  type SafetensorsEntry,
  type SafetensorsFile,
  writeSafetensors,
} from './safetensors.js';
