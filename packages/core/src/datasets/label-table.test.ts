import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';
import { alignPredictions, labelTableFromCsv } from './label-table.js';

const gt = () => labelTableFromCsv(parseCsv('id,A,B\nc1,1,0\nc2,0,1\n', 'gt.csv'), 'binary');

describe('label tables', () => {
  it('aligns predictions by id and label name in any order', () => {
    const pred = labelTableFromCsv(parseCsv('case,B,A\nc2,0.9,0.1\nc1,0.2,0.8\n', 'p.csv'), 'probabilities');
    const aligned = alignPredictions(pred, gt());
    expect(aligned.ids).toEqual(['c1', 'c2']);
    expect(aligned.labels).toEqual(['A', 'B']);
    expect(aligned.scores.map((c) => Array.from(c))).toEqual([
      [0.8, 0.1],
      [0.2, 0.9],
    ]);
    expect(aligned.truth.map((c) => Array.from(c))).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it('names the file and the missing case or label', () => {
    const p = (text: string) => labelTableFromCsv(parseCsv(text, 'p.csv'), 'probabilities');
    expect(() => alignPredictions(p('id,A,B\nc1,0.1,0.2\n'), gt())).toThrow(
      'p.csv: case "c2" (in gt.csv) has no prediction',
    );
    expect(() => alignPredictions(p('id,A\nc1,0.1\nc2,0.3\n'), gt())).toThrow(
      'p.csv: label "B" (in gt.csv) is missing',
    );
    expect(() => alignPredictions(p('id,A,B,C\nc1,0,0,0\nc2,0,0,0\n'), gt())).toThrow(
      'gt.csv: label "C" (in p.csv) has no ground-truth column',
    );
    expect(() => alignPredictions(p('id,A,B\nc1,0,0\nc2,0,0\nc3,0,0\n'), gt())).toThrow(
      'gt.csv: case "c3" (in p.csv) has no ground truth',
    );
  });

  it('reads only the labels asked for, in that order', () => {
    const t = labelTableFromCsv(parseCsv('id,notes,B,A\nc1,x,1,0\n', 'g.csv'), 'binary', { labels: ['A', 'B'] });
    expect(t.labels).toEqual(['A', 'B']);
    expect(t.values.map((c) => Array.from(c))).toEqual([[0], [1]]);
    expect(() => labelTableFromCsv(parseCsv('id,A\nc1,1\n', 'g.csv'), 'binary', { labels: ['A', 'C'] })).toThrow(
      'g.csv: has no column for label "C"',
    );
  });

  it('rejects bad values and repeated ids', () => {
    expect(() => labelTableFromCsv(parseCsv('id,A\nc1,0.5\n', 'g.csv'), 'binary')).toThrow(
      'g.csv: line 2: case "c1", label "A" must be 0 or 1, got "0.5"',
    );
    expect(() => labelTableFromCsv(parseCsv('id,A\nc1,\n', 'p.csv'), 'probabilities')).toThrow(/finite number/);
    expect(() => labelTableFromCsv(parseCsv('id,A\nc1,1\nc1,0\n', 'g.csv'), 'binary')).toThrow(
      'g.csv: line 3: case "c1" appears again (first on line 2)',
    );
  });
});
