export {
  type CaseHeatmap,
  type CaseHeatmapArgs,
  caseHeatmaps,
  HEATMAP_NIFTI,
  HEATMAP_POLARITY,
  type HeatmapMethod,
  type HeatmapPlugin,
  type HeatmapSummary,
  heatmapEmbedOptions,
  pluginEmbedder,
  pluginEmbeddings,
} from './case-heatmap.js';
export { type ColormapName, colormapLut } from './colormap.js';
export {
  type MontageOptions,
  type MontageRow,
  type MontageText,
  renderMontage,
  type SliceStack,
  topSlices,
} from './montage.js';
export {
  caseMontage,
  displayWindow,
  type HeatmapFiles,
  labelSlug,
  type MontageCaption,
  montageText,
  volumeSlices,
  writeHeatmapOutputs,
} from './outputs.js';
export { type PluginPass, pluginPass } from './plugin-math.js';
export { type CaseReport, caseReportHtml, reportLabels, writeCaseReport } from './report.js';
export { HeatPlaneStats, type SliceHeat, topSlicesAlong, topSlicesOf } from './slice-heat.js';
export { classActivationMaps, type SliceMaps } from './slice-maps.js';
