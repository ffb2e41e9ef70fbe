export { embedVolume, type ViewInput, type VolumeEmbedding } from './embed-volume.js';
