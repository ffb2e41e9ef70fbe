export { CT_RATE_LABELS, type CtRateLabel } from './labels.js';
export { type CasePrediction, type ResultsDocument, validateResults } from './results.js';
