import { readFile } from 'node:fs/promises';
import { InputError } from '../util/errors.js';

/** A parsed CSV file: the header, the data rows (all as wide as the header) and where each began. */
export interface CsvTable {
  /** The file (or other source) named in errors. */
  source: string;
  header: string[];
  rows: string[][];
  /** 1-based line number on which each row starts, for error messages. */
  lines: number[];
}

export interface CsvOptions {
  /** Field separator, ',' by default. */
  delimiter?: string;
}

/**
 * Parses RFC 4180 CSV as spreadsheets and pandas write it: quoted fields (with "" for a quote,
 * and delimiters or line breaks inside), LF, CRLF or CR line ends, a UTF-8 byte-order mark, blank
 * lines skipped. Every row must have as many fields as the header, and header names must be
 * distinct, so a column can be found by name without guessing.
 */
export function parseCsv(text: string, source: string, options: CsvOptions = {}): CsvTable {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new RangeError(`unusable CSV delimiter ${JSON.stringify(delimiter)}`);
  }
  const records: { fields: string[]; line: number }[] = [];
  const sep = delimiter.charCodeAt(0);
  const QUOTE = 0x22;
  const LF = 0x0a;
  const CR = 0x0d;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let fields: string[] = [];
  let recordLine = 1;
  let atRecordStart = true;

  const endRecord = () => {
    // A line with nothing on it is a blank line, not a record with one empty field.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
    atRecordStart = true;
  };

  while (i <= n) {
    if (atRecordStart) {
      recordLine = line;
      atRecordStart = false;
    }
    let value: string;
    if (text.charCodeAt(i) === QUOTE) {
      const openedAt = line;
      const parts: string[] = [];
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) throw new InputError(source, `line ${openedAt}: a quoted field is never closed`);
        const part = text.slice(i, close);
        for (let k = 0; k < part.length; k++) {
          const c = part.charCodeAt(k);
          if (c === LF || (c === CR && part.charCodeAt(k + 1) !== LF)) line++;
        }
        parts.push(part);
        if (text.charCodeAt(close + 1) === QUOTE) {
          parts.push('"');
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      value = parts.join('');
      const next = text.charCodeAt(i);
      if (i < n && next !== sep && next !== LF && next !== CR) {
        throw new InputError(source, `line ${line}: unexpected ${JSON.stringify(text[i])} after a closing quote`);
      }
    } else {
      const start = i;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === sep || c === LF || c === CR) break;
      }
      value = text.slice(start, i);
    }
    fields.push(value);
    if (i >= n) {
      endRecord();
      break;
    }
    if (text.charCodeAt(i) === sep) {
      i++;
      continue;
    }
    // a line end: CRLF, LF or a lone CR
    i += text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
    line++;
    endRecord();
    if (i >= n) break;
  }

  const [head, ...rest] = records;
  if (head === undefined) throw new InputError(source, 'the CSV file is empty (no header row)');
  const header = head.fields;
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new InputError(source, `column "${name}" appears more than once in the header`);
    seen.add(name);
  }
  for (const record of rest) {
    if (record.fields.length !== header.length) {
      throw new InputError(
        source,
        `line ${record.line}: ${record.fields.length} fields, but the header has ${header.length}`,
      );
    }
  }
  return { source, header, rows: rest.map((r) => r.fields), lines: rest.map((r) => r.line) };
}

/** Reads and parses a CSV file; an unreadable file is an InputError naming it. */
export async function readCsv(path: string, options?: CsvOptions): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new InputError(path, `cannot read the CSV file: ${reason}`, { cause: error });
  }
  return parseCsv(text, path, options);
}
