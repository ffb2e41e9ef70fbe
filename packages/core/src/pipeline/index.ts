export {
  atSliceCount,
  embedVolume,
  type ViewInput,
  type VolumeEmbedding,
  viewSlices,
  volumePixels,
} from './embed-volume.js';
export { type CaseVolumes, type ViewTokenProgress, type ViewTokens, viewTokens } from './view-tokens.js';
