export { BUILTIN_CARDS, NOT_IMPLEMENTED } from './entries.js';
export {
  backboneCard,
  listBackbones,
  loadFolder,
  type RegistryEntry,
  type ResolveOptions,
  registerBackbone,
  resolveBackbone,
  weightsRoot,
} from './registry.js';
