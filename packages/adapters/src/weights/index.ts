// The safetensors reader lives in @anymc3d/core/io; re-exported for this package's public API.
export {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  type SafetensorsEntry,
  type SafetensorsFile,
} from '@anymc3d/core/io';
export { readHfConfig } from './hf-config.js';
