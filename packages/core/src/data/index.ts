export { type CsvOptions, type CsvTable, parseCsv, readCsv } from './csv.js';
export { alignPredictions, type LabelTable, type LabelValues, labelTableFromCsv } from './label-table.js';
