export { type ColormapName, colormapLut } from './colormap.js';
export { type MontageOptions, renderMontage, type SliceStack, topSlices } from './montage.js';
export { classActivationMaps, normalizeUnit, type SliceMaps, upsampleSliceMaps } from './slice-maps.js';
