import { readFileSync } from 'node:fs';

/** The installed @anymc3d/adapters version (written into provenance). */
export const ADAPTERS_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export * from './cnn/index.js';
export {
  backboneCard,
  listBackbones,
  loadFolder,
  registerBackbone,
  resolveBackbone,
  weightsRoot,
} from './registry/index.js';
