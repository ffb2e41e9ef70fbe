/**
 * Plots a reader understands without the code: Vega-Lite specs for the benchmark comparison,
 * paired differences, training curves, ROC and reliability diagrams, rendered in Node to SVG and
 * PNG with the spec written beside them.
 */
export {
  type ComparisonPoint,
  comparisonPlotSpec,
  type DifferencePoint,
  differencesPlotSpec,
} from './benchmark-specs.js';
export { writeEvaluationPlots } from './evaluation-plots.js';
export { type ReliabilitySeries, type RocSeries, reliabilityPlotSpec, rocPlotSpec } from './evaluation-specs.js';
export { PLOT_CONFIG, PLOT_FONT, type PlotSpec, plotSvg, type RenderedPlot, renderPlot, svgToPng } from './render.js';
export { type TrainingCurve, trainingCurveSpec } from './training-specs.js';
export { type PlotFiles, writePlot } from './write.js';
