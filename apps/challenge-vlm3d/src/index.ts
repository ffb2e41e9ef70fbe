export { detectUnits, type IntensitySummary, type IntensityUnits, rescaleToHounsfield } from './hounsfield.js';
export { type ChallengePaths, challengePaths, findInputCases, type InputCase } from './inputs.js';
export { CT_RATE_LABELS, type CtRateLabel } from './labels.js';
export { type CasePrediction, type ResultsDocument, validateResults } from './results.js';
