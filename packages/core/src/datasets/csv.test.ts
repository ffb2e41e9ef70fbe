import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../util/errors.js';
import { parseCsv, readCsv } from './csv.js';

describe('parseCsv', () => {
  it('reads quoted fields with delimiters, quotes and line breaks inside', () => {
    const t = parseCsv('id,note\na,"x, ""y""\nz"\nb,plain\n', 'f.csv');
    expect(t.header).toEqual(['id', 'note']);
    expect(t.rows).toEqual([
      ['a', 'x, "y"\nz'],
      ['b', 'plain'],
    ]);
    expect(t.lines).toEqual([2, 4]);
  });

  it('handles a BOM, CRLF and lone CR line ends, blank lines and a missing final newline', () => {
    const t = parseCsv('\uFEFFid,v\r\n\r\na,1\rb,"2\r\n3"\r\n\nc,', 'f.csv');
    expect(t.header).toEqual(['id', 'v']);
    expect(t.rows).toEqual([
      ['a', '1'],
      ['b', '2\r\n3'],
      ['c', ''],
    ]);
    expect(t.lines).toEqual([3, 4, 7]);
  });

  it('takes another delimiter', () => {
    expect(parseCsv('a;b\n1;"2;3"\n', 'f.csv', { delimiter: ';' }).rows).toEqual([['1', '2;3']]);
  });

  it('names the file and line of a ragged row, an open quote, stray text and a repeated column', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n', 'f.csv')).toThrow('f.csv: line 3: 1 fields, but the header has 2');
    expect(() => parseCsv('a,b\n1,"2\n', 'f.csv')).toThrow('f.csv: line 2: a quoted field is never closed');
    expect(() => parseCsv('a,b\n1,"2"x\n', 'f.csv')).toThrow(/line 2: unexpected "x" after a closing quote/);
    expect(() => parseCsv('a,a\n', 'f.csv')).toThrow(/column "a" appears more than once/);
    expect(() => parseCsv('\n\n', 'f.csv')).toThrow(InputError);
  });

  it('readCsv names a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-csv-'));
    await expect(readCsv(join(dir, 'none.csv'))).rejects.toThrow(/none\.csv: cannot read the CSV file: file not found/);
    await writeFile(join(dir, 'ok.csv'), 'id\nx\n');
    expect((await readCsv(join(dir, 'ok.csv'))).rows).toEqual([['x']]);
  });
});
