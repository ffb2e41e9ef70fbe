export { type CsvOptions, type CsvTable, parseCsv, readCsv } from './csv.js';
